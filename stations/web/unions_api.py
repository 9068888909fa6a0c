"""JSON API v1 of the union tree: read the unions of one's scope, add one (admin)."""

from flask import Blueprint, g, jsonify, request

from ..unions.admin import create_in_scope, visible_unions
from ..unions.names import UnionError
from ..unions.scope import scope_of
from .access import allow
from .api_common import protect_session
from .db import get_db

bp = Blueprint("unions_api", __name__, url_prefix="/api/v1")
FIELDS = ("id", "name", "aliases", "kind", "parent_id", "status")


def _refused(exc: UnionError):
    return jsonify(error={"status": exc.status, "parameter": exc.field, "message": str(exc)}), exc.status


def _plain(union: dict) -> dict:
    return {k: union.get(k) for k in FIELDS}


@bp.get("/unions")
@allow("admin", "union", "reviewer", "planner")
def unions():
    """The unions of the caller's scope: an admin's subtree (all for the city's), a union
    account's own union, everything for reviewers and planners."""
    return jsonify(unions=[_plain(u) for u in visible_unions(get_db(), scope_of(get_db(), g.user))])


@bp.post("/unions")
@allow("admin")
def add():
    """Add a union under a parent in the admin's scope: 201 with the union."""
    protect_session()
    body = request.get_json(silent=True)
    try:
        fields = _read(body)
        union = create_in_scope(get_db(), scope_of(get_db(), g.user), username=g.user["username"], **fields)
    except UnionError as exc:
        return _refused(exc)
    return jsonify(_plain(union)), 201


def _read(body) -> dict:
    """{name, parent_id, kind, aliases} from the body; UnionError (400) naming the field."""
    if not isinstance(body, dict):
        raise UnionError("请求体应是 JSON 对象：{\"name\", \"parent_id\", \"kind\", \"aliases\"}", "body")
    unknown = sorted(set(body) - {"name", "parent_id", "kind", "aliases"})
    if unknown:
        raise UnionError(f"不认识的字段：{'、'.join(map(str, unknown))[:100]}", unknown[0][:50])
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UnionError("name 应为工会名称（文字）", "name")
    parent_id = body.get("parent_id")
    if parent_id is not None and (not isinstance(parent_id, int) or isinstance(parent_id, bool)
                                  or not 0 < parent_id < 2**63):
        raise UnionError("parent_id 应为上级工会的编号（正整数）或 null", "parent_id")
    kind = body.get("kind", "grassroots")
    if not isinstance(kind, str):
        raise UnionError("kind 应为工会类别（文字）", "kind")
    aliases = body.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases) or len(aliases) > 50:
        raise UnionError("aliases 应为简称的列表（最多 50 个文字）", "aliases")
    return {"name": name, "parent_id": parent_id, "kind": kind, "aliases": aliases}
