"""The union tree's part of the OpenAPI document (merged by stations/openapi.py)."""

from __future__ import annotations

from .names import KINDS, STATUSES
from .store import MAX_NAME

__all__ = ["union_paths", "union_schemas"]

_REF = "#/components/schemas/"
_SECURE = [{"bearerAuth": []}, {"basicAuth": []}, {"session": []}]
_ERROR = {"application/json": {"schema": {"$ref": _REF + "Error"}}}
_WHY = {"400": "Bad input (the error names the field in `parameter`)", "401": "Not logged in",
        "403": "Not an admin, or the parent lies outside the admin's part of the tree (its scope)",
        "409": "A name or alias is already a union's name or alias",
        "503": "Database busy; retry after Retry-After"}


def _errors(*codes):
    return {c: {"description": _WHY[c], "content": _ERROR} for c in codes}


def _json(name):
    return {"application/json": {"schema": {"$ref": _REF + name}}}


def union_paths() -> dict:
    return {"/api/v1/unions": {
        "get": {"summary": "The unions the caller sees (signed-in users)",
                "description": "An admin sees its scope: the whole tree for an admin of no union or of a "
                               "union at the top, otherwise its union's subtree (an admin of a national, "
                               "provincial or municipal union also the unplaced unions at the top); a "
                               "union account its own union; reviewers and planners every union. Names "
                               "and aliases resolve after normalising brackets and spaces.",
                "security": _SECURE,
                "responses": {"200": {"description": "Unions by name", "content": _json("Unions")},
                              **_errors("401")}},
        "post": {"summary": "Add a union under a parent in the admin's scope (admin)",
                 "description": "`parent_id` null puts the union at the top of the tree: only an admin "
                                "of the whole tree may. The new union is placed (`status` active).",
                 "security": _SECURE, "requestBody": {"required": True, "content": _json("UnionInput")},
                 "responses": {"201": {"description": "Added", "content": _json("Union")},
                               **_errors("400", "401", "403", "409", "503")}},
    }}


def union_schemas() -> dict:
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
    kind = {"type": "string", "enum": list(KINDS),
            "description": ", ".join(f"{k} {v}" for k, v in KINDS.items())}
    return {
        "Union": {"type": "object", "required": ["id", "name", "aliases", "kind", "parent_id"], "properties": {
            "id": {"type": "integer"}, "name": name,
            "aliases": {"type": "array", "items": name, "description": "Short and old names (简称、曾用名)"},
            "kind": kind, "parent_id": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": list(STATUSES),
                       "description": "unplaced: added from an import or a station form, not yet put in "
                                      "the tree by an organiser (待确认归属)"}}},
        "Unions": {"type": "object", "required": ["unions"], "properties": {
            "unions": {"type": "array", "items": {"$ref": _REF + "Union"}}}},
        "UnionInput": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
            "name": name, "parent_id": {"type": ["integer", "null"], "minimum": 1},
            "kind": {**kind, "default": "grassroots"},
            "aliases": {"type": "array", "items": name, "maxItems": 50, "default": []}}},
    }
