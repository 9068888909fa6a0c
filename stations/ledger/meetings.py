"""双沟通: 职工沟通会 (with workers) and 企业沟通会 (with companies), counts only.

No worker's name, phone or ID is asked for or stored: a meeting is a date, a kind, a
place, how many came, how many companies, how many joined the union on the spot (入会)
and how many enterprise unions it led to (建会).
"""

from __future__ import annotations

from datetime import date

from ..storage import now_iso, write_transaction
from .codes import MAX_MEETING_COUNT, MEETING_KINDS, LedgerError
from .common import clean_note, parse_count, parse_date, station_for, today, visible_union

__all__ = ["MEETING_COUNTS", "add_meeting", "list_meetings", "meeting_json", "parse_meeting"]

MEETING_COUNTS = {"attendees": "参加人数", "companies": "到会企业数", "new_members": "新入会会员",
                  "new_unions": "新建企业工会"}
PLACE_MAX = 100


def parse_meeting(data, *, strict: bool, districts=()) -> dict:
    """Check a meeting (JSON when ``strict``, else a form); LedgerError naming every field."""
    errors, out = {}, {}
    try:
        out["date"] = parse_date(data.get("date"), not_after=today(), iso=strict)
    except LedgerError as exc:
        errors["date"] = exc.message
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in MEETING_KINDS:  # a list or object is no kind either
        errors["kind"] = "请选择会议类型：职工沟通会（worker）或企业沟通会（enterprise）"
    out["kind"] = kind
    station = data.get("station_id")
    if station in (None, ""):
        out["station_id"] = None
    elif strict and (isinstance(station, bool) or not isinstance(station, int)):
        errors["station_id"] = "station_id 应是站点编号（整数）"
    else:
        try:
            out["station_id"] = int(str(station).strip())
            if not 0 < out["station_id"] < 2**63:
                raise ValueError
        except ValueError:
            errors["station_id"] = f"站点编号“{str(station)[:20]}”不是正整数"
    district = data.get("district")
    if district is not None and not isinstance(district, str):
        errors["district"] = "区应是文字"
        district = None
    district = " ".join((district or "").split())
    if district and districts and district not in districts:
        errors["district"] = f"不认识的区“{district[:20]}”"
    elif len(district) > 30:
        errors["district"] = "区名太长"
    out["district"] = district
    place = data.get("place")
    if place is not None and not isinstance(place, str):
        errors["place"] = "地点应是文字"
    else:
        try:
            out["place"] = clean_note(place, "place", limit=PLACE_MAX)
        except LedgerError as exc:
            errors["place"] = exc.message.replace("备注", "地点")
    for field, label in MEETING_COUNTS.items():
        try:
            out[field] = parse_count(data.get(field, 0 if strict else None), field, label,
                                     maximum=MAX_MEETING_COUNT, strict=strict)
        except LedgerError as exc:
            errors[field] = exc.message
    try:
        out["note"] = clean_note(data.get("note"))
    except LedgerError as exc:
        errors["note"] = exc.message
    if "attendees" not in errors and out["attendees"] == 0:
        errors["attendees"] = "参加人数至少 1 人：没有人参加的会不算召开"
    elif not errors and out["kind"] == "enterprise" and out["companies"] == 0:
        errors["companies"] = "企业沟通会至少要有 1 家企业到会"
    if not errors and out["new_members"] > out["attendees"] and out["kind"] == "worker":
        errors["new_members"] = (f"新入会 {out['new_members']} 人多于参加人数 {out['attendees']} 人："
                                 "职工沟通会上入会的人应是到会的人")
    if not errors and out["station_id"] is None and not out["place"]:
        errors["place"] = "请选择站点或填写地点"
    if errors:
        first = next(iter(errors))
        raise LedgerError(errors[first], first, errors=errors)
    return out


def add_meeting(db, data, user, *, strict: bool = False, districts=(), synthetic: bool = False) -> dict:
    """Record a meeting; a ``union`` user only at its own union's stations (403 otherwise).

    The district defaults to the station's.  Returns the stored meeting.
    """
    meeting = parse_meeting(data, strict=strict, districts=districts)
    union = visible_union(user)
    if meeting["station_id"] is not None:
        station = station_for(db, meeting["station_id"], user)
        meeting["district"] = meeting["district"] or station["district"] or ""
        union = union or " ".join((station["host_union"] or "").split()) or None
    if not meeting["district"]:
        raise LedgerError("请选择区", "district", errors={"district": "请选择区"})
    row = {**meeting, "date": meeting["date"].isoformat(), "union_name": union,
           "created_by": (user or {}).get("username"), "created_at": now_iso(),
           "synthetic": int(synthetic)}
    with write_transaction(db):
        meeting_id = db["meetings"].insert(row).last_pk
    return get_meeting(db, meeting_id)


def get_meeting(db, meeting_id) -> dict:
    rows = list(db.query("SELECT m.*, s.name AS station_name FROM meetings m "
                         "LEFT JOIN stations s ON s.id = m.station_id WHERE m.id = ?", [int(meeting_id)]))
    if not rows:
        raise LedgerError("没有这场会议", "id", 404)
    return rows[0]


def list_meetings(db, *, user=None, district=None, start: date | None = None, end: date | None = None,
                  kind=None, limit: int = 500) -> list[dict]:
    """Meetings newest first, filtered; a ``union`` user sees its own union's only."""
    clauses, params = [], []
    union = visible_union(user)
    if union is not None:
        clauses.append("m.union_name = ?")
        params.append(union)
    if district:
        clauses.append("m.district = ?")
        params.append(district)
    if kind:
        clauses.append("m.kind = ?")
        params.append(kind)
    if start:
        clauses.append("m.date >= ?")
        params.append(start.isoformat())
    if end:
        clauses.append("m.date <= ?")
        params.append(end.isoformat())
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return list(db.query("SELECT m.*, s.name AS station_name FROM meetings m LEFT JOIN stations s "
                         f"ON s.id = m.station_id{where} ORDER BY m.date DESC, m.id DESC LIMIT ?",
                         params + [int(limit)]))


def meeting_json(meeting: dict) -> dict:
    keys = ("id", "date", "kind", "station_id", "place", "district", "attendees", "companies",
            "new_members", "new_unions", "note")
    return {k: meeting[k] for k in keys}
