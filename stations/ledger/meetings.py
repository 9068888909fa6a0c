"""双沟通: 职工沟通会 (with workers) and 企业沟通会 (with companies), counts only.

No worker's name, phone or ID is asked for or stored: a meeting is a date, a kind, a
place, how many came, how many companies, how many joined the union on the spot (入会)
and how many enterprise unions it led to (建会).

A ``union`` user records its own union's meetings: at one of its stations, or elsewhere
in a district where its stations lie (``union_districts``) — never in another union's
district, whose report it would move.  Counts above what one meeting usually holds
(``MEETING_LIMITS``, first figure) are stored only when the recorder confirms them, and
stay on the organisers' flags page with who recorded them until an organiser checks
them (``large_meetings``, ``check_large_meeting``); counts above the second are refused.
"""

from __future__ import annotations

from datetime import date

from ..storage import now_iso, write_transaction
from .codes import MEETING_KINDS, MEETING_LIMITS, LedgerError
from ..unions.scope import in_scope
from .common import clean_note, keeper_scope, parse_count, parse_date, station_for, today

__all__ = ["MEETING_COUNTS", "add_meeting", "list_meetings", "meeting_json", "parse_meeting",
           "union_districts", "large_meetings", "check_large_meeting", "CONFIRM_LABEL"]

MEETING_COUNTS = {"attendees": "参加人数", "companies": "到会企业数", "new_members": "新入会会员",
                  "new_unions": "新建企业工会"}
UNITS = {"attendees": "人", "companies": "家", "new_members": "人", "new_unions": "家"}
CONFIRM_LABEL = "我确认人数无误"
PLACE_MAX = 100


def _confirmed(value, strict: bool, errors: dict) -> bool:
    """The recorder's confirmation of large counts: JSON true/false, or a ticked box."""
    if strict:
        if value is None:
            return False
        if not isinstance(value, bool):
            errors["confirm_large"] = "confirm_large 应是 true 或 false"
            return False
        return value
    return str(value or "").strip().lower() in ("1", "on", "true", "yes")


def _check_sizes(out: dict, errors: dict, *, strict: bool, confirmed: bool) -> None:
    """Refuse absurd counts; ask for a confirmation of large ones (``MEETING_LIMITS``)."""
    large = []
    for field, (usual, hard) in MEETING_LIMITS.items():
        value = out.get(field)
        if field in errors or value is None:
            continue
        label, unit = MEETING_COUNTS[field], UNITS[field]
        if value > hard:
            errors[field] = (f"{label} {value:,} {unit}不合常理：一场沟通会最多记 {hard:,} {unit}。"
                             "请核对（是不是多打了 0，或填了全年的合计？）")
        elif value > usual:
            large.append(f"{label} {value:,} {unit}（一场通常不超过 {usual:,} {unit}）")
    out["large_confirmed"] = int(bool(large) and confirmed)
    if large and not confirmed and "confirm_large" not in errors:
        how = ("确无错误请在请求中加上 \"confirm_large\": true 再提交" if strict
               else f"确无错误请勾选“{CONFIRM_LABEL}”后再保存")
        errors["confirm_large"] = (f"{'、'.join(large)}超出一场会的常见规模：请核对；{how}。"
                                   "确认后的记录会提示组织方核实。")


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
        try:  # bounded by MEETING_LIMITS below, with a message about meetings
            out[field] = parse_count(data.get(field, 0 if strict else None), field, label,
                                     maximum=10**18, strict=strict)
        except LedgerError as exc:
            errors[field] = exc.message
    _check_sizes(out, errors, strict=strict, confirmed=_confirmed(data.get("confirm_large"), strict, errors))
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
    if errors:
        first = next(iter(errors))
        raise LedgerError(errors[first], first, errors=errors)
    return out


def union_districts(db, scope, districts=()) -> list[str]:
    """The districts where a union (``scope``: a union user's, exactly its union) may
    record meetings: where its stations lie, and any of the known ``districts`` its own
    name names (朝阳区总工会: 朝阳区); in the order of ``districts``, then the rest by name."""
    if scope is None or scope.everything:
        return []
    condition, params = scope.sql("host_union_id")
    found = {r[0] for r in db.execute(
        f"SELECT DISTINCT district FROM stations WHERE coalesce(district, '') != ''{condition}", params)}
    union = scope.name or ""
    found |= {d for d in districts if d and d in union}
    order = {d: n for n, d in enumerate(districts)}
    return sorted(found, key=lambda d: (order.get(d, len(order)), d))


def _district_refusal(union: str, district: str, allowed: list) -> LedgerError:
    if not allowed:
        message = (f"本工会（{union}）还没有登记站点，无法确定会议所在的区：请选择本工会的站点，"
                   "或请管理员代为记录。")
    else:
        message = (f"本工会（{union}）只能记录本工会站点所在区的会议：{'、'.join(allowed)}。"
                   f"“{district}”不在其中；在别的区开的会请由当地工会或管理员记录。")
    return LedgerError(message, "district", 403)


def add_meeting(db, data, user, *, strict: bool = False, districts=(), synthetic: bool = False,
                scope=None) -> dict:
    """Record a meeting; a ``union`` user only at its own union's stations and in the
    districts where they lie (``union_districts``; 403 otherwise, nothing stored); an
    admin at the stations of its part of the union tree (``scope``, when the caller has it).

    The meeting belongs to the union user's union, else to the station's host union,
    else to the scoped admin's own union: whoever shares that scope sees it.

    The district defaults to the station's.  Counts above the usual size of a meeting
    need ``confirm_large`` (400 without) and are stored flagged for the organisers.
    Returns the stored meeting.
    """
    meeting = parse_meeting(data, strict=strict, districts=districts)
    scope = keeper_scope(db, user, scope)
    own = scope if (user or {}).get("role") == "union" else None
    union = (scope.union_id, scope.name) if own is not None else None
    if meeting["station_id"] is not None:
        station = station_for(db, meeting["station_id"], user, scope=scope)
        meeting["district"] = meeting["district"] or station["district"] or ""
        union = union or ((station["host_union_id"], station["host_union"]) if station["host_union"] else None)
    if union is None and not scope.everything:
        union = (scope.union_id, scope.name)
    allowed = union_districts(db, own, districts) if own is not None else None
    if not meeting["district"]:
        message = "请选择区" + (f"（本工会可记录的区：{'、'.join(allowed)}）" if allowed else "")
        raise LedgerError(message, "district", errors={"district": message})
    if allowed is not None and meeting["district"] not in allowed:
        raise _district_refusal(own.name, meeting["district"], allowed)
    row = {**meeting, "date": meeting["date"].isoformat(), "union_name": union[1] if union else None,
           "union_id": union[0] if union else None,
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
                  kind=None, limit: int = 500, scope=None) -> list[dict]:
    """Meetings newest first, filtered; a ``union`` user sees its own union's only, an admin
    those of its part of the union tree (``scope``, when the caller has it)."""
    clauses, params = [], []
    condition, more = keeper_scope(db, user, scope).sql("m.union_id")
    if condition:
        clauses.append(condition.removeprefix(" AND "))
        params += more
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
    return {**{k: meeting[k] for k in keys}, "large_confirmed": bool(meeting.get("large_confirmed"))}


def large_meetings(db, limit: int = 200, *, scope=None) -> list[dict]:
    """Meetings stored with counts their recorder confirmed as right although above the
    usual size of a meeting, not yet checked by an organiser; newest first, with who
    recorded them (``created_by``) and for which union (of ``scope``'s unions, if given)."""
    condition, params = scope.sql("m.union_id") if scope is not None else ("", [])
    return list(db.query("SELECT m.*, s.name AS station_name FROM meetings m LEFT JOIN stations s "
                         "ON s.id = m.station_id WHERE m.large_confirmed = 1 AND m.large_checked_at IS NULL"
                         f"{condition} ORDER BY m.created_at DESC, m.id DESC LIMIT ?", params + [int(limit)]))


def check_large_meeting(db, meeting_id, *, username: str, scope=None) -> dict:
    """An organiser has checked a large meeting's counts: it leaves the flags page (403 for
    a meeting outside ``scope``)."""
    meeting = get_meeting(db, meeting_id)
    if scope is not None and not in_scope(db, scope, meeting["union_id"]):
        raise LedgerError("这场会议不在您的管辖范围内", "id", 403)
    if not meeting["large_confirmed"]:
        raise LedgerError("这场会议的人数没有超出常见规模，无需核实", "id", 409)
    with write_transaction(db):
        db.execute("UPDATE meetings SET large_checked_by = ?, large_checked_at = ? WHERE id = ? "
                   "AND large_checked_at IS NULL", [username, now_iso(), int(meeting_id)])
    return get_meeting(db, meeting_id)
