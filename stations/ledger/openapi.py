"""The ledger's part of the OpenAPI document (merged by stations/openapi.py)."""

from __future__ import annotations

from .codes import MAX_DAILY_COUNT, MEETING_LIMITS, NOTE_MAX, SERVICES, VISITORS

__all__ = ["ledger_paths", "ledger_schemas"]

_REF = "#/components/schemas/"
_SECURE = [{"bearerAuth": []}, {"basicAuth": []}, {"session": []}]
_TEXT = {"application/json": {"schema": {"$ref": _REF + "Error"}}}
_WHY = {"400": "Bad input (the error names the field in `parameter`)", "401": "Not logged in",
        "403": "Not allowed: another union's station or district (a union user), or not this role",
        "404": "No such station", "409": "The station is closed",
        "429": "Too many check-ins from this client (Retry-After)",
        "503": "Database busy; retry after Retry-After"}


def _errors(*codes):
    return {c: {"description": _WHY[c], "content": _TEXT} for c in codes}


def _json(name):
    return {"application/json": {"schema": {"$ref": _REF + name}}}


def _query(name, description, schema):
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_STATION = {"name": "station_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_DAY = {"type": "string", "format": "date"}
_PERIOD = [_query("from", "First day (YYYY-MM-DD; inclusive)", _DAY),
           _query("to", "Last day (YYYY-MM-DD; inclusive)", _DAY)]


def ledger_paths() -> dict:
    return {
        "/api/v1/stations/{station_id}/ledger": {
            "post": {"summary": "Store a station's day of the service ledger (union: its own stations; admin: any)",
                     "description": "One entry per station and day: 201 for a new day, 200 when it replaces "
                                    "that day's entry (the old version is kept in history). Dates may not be "
                                    "in the future.",
                     "parameters": [_STATION], "security": _SECURE,
                     "requestBody": {"required": True, "content": _json("LedgerEntryInput")},
                     "responses": {"200": {"description": "Replaced", "content": _json("LedgerEntry")},
                                   "201": {"description": "Stored", "content": _json("LedgerEntry")},
                                   **_errors("400", "401", "403", "404", "503")}},
            "get": {"summary": "A station's ledger entries (union: its own stations)",
                    "parameters": [_STATION, *_PERIOD], "security": _SECURE,
                    "responses": {"200": {"description": "Entries, oldest first", "content": _json("LedgerEntries")},
                                  **_errors("400", "401", "403", "404")}},
        },
        "/api/v1/meetings": {
            "post": {"summary": "Record a 双沟通 meeting (职工沟通会 worker / 企业沟通会 enterprise); counts only",
                     "security": _SECURE, "requestBody": {"required": True, "content": _json("MeetingInput")},
                     "responses": {"201": {"description": "Recorded", "content": _json("Meeting")},
                                   **_errors("400", "401", "403", "404", "503")}},
            "get": {"summary": "Meetings, newest first (union: its own)",
                    "parameters": [_query("district", "District name", {"type": "string"}), *_PERIOD],
                    "security": _SECURE,
                    "responses": {"200": {"description": "Meetings", "content": _json("Meetings")},
                                  **_errors("400", "401", "403")}},
        },
        "/api/v1/stations/{station_id}/checkins": {
            "post": {"summary": "A rider's anonymous check-in at a station (我在这里歇脚了); no body",
                     "description": "Public; rate-limited per client (a keyed hash of the address, which is "
                                    "never stored) and globally. 409 for a station that is not open "
                                    "(closed, temporarily closed or pending) or closed right now by "
                                    "its opening hours (已打烊): the rider cannot have rested there.",
                     "parameters": [_STATION],
                     "responses": {"201": {"description": "Counted", "content": _json("Checkin")},
                                   **_errors("404", "409", "429", "503")}},
        },
        "/api/v1/reports/ledger": {
            "get": {"summary": "Ledger, check-in and meeting figures in total, per district and per month "
                               "(admin, planner; union: its own stations and meetings)",
                    "description": "The period is clamped to 2015-01-01 … today; `from` after `to` is an "
                                   "empty period.",
                    "parameters": [_query("district", "District name", {"type": "string"}), *_PERIOD],
                    "security": _SECURE,
                    "responses": {"200": {"description": "Figures", "content": _json("LedgerReport")},
                                  **_errors("400", "401", "403")}},
        },
    }


def ledger_schemas() -> dict:
    count = {"type": "integer", "minimum": 0, "maximum": MAX_DAILY_COUNT}
    def meeting_count(field):
        usual, hard = MEETING_LIMITS[field]
        return {"type": "integer", "minimum": 0, "maximum": hard,
                "description": f"above {usual} needs confirm_large: true"}
    visitors = {"type": "object", "properties": {k: count for k in VISITORS}, "additionalProperties": False,
                "description": "Visitors by kind: " + ", ".join(f"{k} {v}" for k, v in VISITORS.items())}
    services = {"type": "object", "properties": {k: count for k in SERVICES}, "additionalProperties": False,
                "description": "Services given: " + ", ".join(f"{k} {v}" for k, v in SERVICES.items())}
    note = {"type": ["string", "null"], "maxLength": NOTE_MAX}
    figures = {"visits": "sum of visitors", "services": "sum of services", "checkins": "riders' check-ins",
               "meetings_worker": "职工沟通会", "meetings_enterprise": "企业沟通会",
               "new_members": "members who joined (入会)", "new_unions": "enterprise unions founded (建会)",
               "entries": "ledger days kept (something recorded)",
               "closed_days": "all-blank days (闭站), counted apart: not kept days"}
    fig = {name: {"type": "integer", "minimum": 0, "description": text} for name, text in figures.items()}
    required = [k for k in figures if k not in ("entries", "closed_days")]
    meeting_props = {
        "date": _DAY, "kind": {"type": "string", "enum": ["worker", "enterprise"]},
        "station_id": {"type": ["integer", "null"]}, "place": {"type": ["string", "null"], "maxLength": 100},
        "district": {"type": ["string", "null"], "maxLength": 30},
        "attendees": {**meeting_count("attendees"), "minimum": 1}, "companies": meeting_count("companies"),
        "new_members": meeting_count("new_members"), "new_unions": meeting_count("new_unions"), "note": note}
    return {
        "LedgerEntryInput": {"type": "object", "required": ["date"], "properties": {
            "date": _DAY, "visitors": visitors, "services": services, "note": note}},
        "LedgerEntry": {"type": "object", "required": ["date", "visitors", "services", "note"], "properties": {
            "date": _DAY, "visitors": visitors, "services": services, "note": note}},
        "LedgerEntries": {"type": "object", "required": ["entries"], "properties": {
            "entries": {"type": "array", "items": {"$ref": _REF + "LedgerEntry"}}}},
        "MeetingInput": {"type": "object", "required": ["date", "kind", "attendees"], "properties": {
                             **meeting_props,
                             "confirm_large": {"type": "boolean", "default": False,
                                               "description": "The recorder confirms counts above the usual "
                                                              "size of a meeting (400 without); the meeting is "
                                                              "then flagged for the organisers"}},
                         "description": "A station_id, or a district without a station (place is optional "
                                        "either way); district defaults to the station's. "
                                        "A union user records meetings at its own union's stations and, "
                                        "without a station, in a district where they lie (403 otherwise, "
                                        "naming the allowed districts). "
                                        "A meeting has at least one attendee; an enterprise meeting "
                                        "(企业沟通会) at least one company (companies >= 1)."},
        "Meeting": {"type": "object", "required": ["id", "date", "kind", "district"],
                    "properties": {"id": {"type": "integer"}, **meeting_props, "district": {"type": "string"},
                                   "large_confirmed": {"type": "boolean",
                                                       "description": "stored with counts above the usual "
                                                                      "size, confirmed by the recorder"}}},
        "Meetings": {"type": "object", "required": ["meetings"], "properties": {
            "meetings": {"type": "array", "items": {"$ref": _REF + "Meeting"}}}},
        "Checkin": {"type": "object", "required": ["station_id", "date", "count"], "properties": {
            "station_id": {"type": "integer"}, "date": _DAY,
            "count": {"type": "integer", "minimum": 1, "description": "check-ins at the station that day"}}},
        "LedgerReport": {"type": "object", "required": ["total", "districts", "months"], "properties": {
            "period": {"type": "object", "properties": {"from": _DAY, "to": _DAY}},
            "total": {"type": "object", "required": required, "properties": {
                **fig, "stations": {"type": "integer"}, "rating": {"type": ["number", "null"]},
                "rating_count": {"type": "integer"}}},
            "districts": {"type": "array", "items": {"type": "object", "required": ["district", *required],
                                                     "properties": {"district": {"type": "string"}, **fig}}},
            "months": {"type": "array", "items": {"type": "object", "required": ["month", *required],
                                                  "properties": {"month": {"type": "string",
                                                                           "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                                                 **fig}}}}},
    }
