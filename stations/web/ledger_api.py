"""JSON API of the ledger: /api/v1/stations/<id>/ledger, /meetings, /checkins, /reports/ledger
(thin; rules live in stations.ledger, role rules as on the pages)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, g, jsonify, request

from .. import ledger as core
from ..accounts.limits import RateLimited
from .access import PUBLIC, allow, client_id
from .api import refuse_empty_typed_parameters
from .api_common import error_answer, json_object, too_many
from .db import get_db
from .ledger import checkin_limits, checkin_refusal

bp = Blueprint("ledger_api", __name__, url_prefix="/api/v1")
bp.before_request(refuse_empty_typed_parameters)  # ?field= is a 400, as on the rest of the API


@bp.errorhandler(core.LedgerError)
def ledger_error(exc):
    return error_answer(exc, {"errors": exc.errors} if len(exc.errors) > 1 else None)


def _body():
    return json_object(core.LedgerError)


def _day_param(name):
    value = request.args.get(name)
    if value is None or value == "":
        return None
    return core.parse_date(value, name, label=name, earliest=date(1, 1, 1), iso=True)


def _districts():
    from ..riders.search import district_choices

    return district_choices(current_app.config["YIZHAN_REGION"])


@bp.post("/stations/<int:station_id>/ledger")
@allow("admin", "union")
def save_day(station_id):
    """Store one station's day (201), or replace it (200; the old version kept in history)."""
    saved = core.save_entry(get_db(), station_id, _body(), g.user, strict=True, scope=g.scope)
    return jsonify(core.entry_json(saved["entry"])), (200 if saved["replaced"] else 201)


@bp.get("/stations/<int:station_id>/ledger")
@allow("admin", "planner", "union")
def read_days(station_id):
    """A station's entries from ``from`` to ``to`` (a union: its own stations only)."""
    start, end = _day_param("from"), _day_param("to")
    if g.user["role"] == "planner":
        from ..storage import StationNotFound, get_station

        try:
            get_station(get_db(), station_id)
        except StationNotFound:
            raise core.LedgerError(f"没有编号为 {station_id} 的站点", "station_id", 404) from None
    else:
        core.station_for(get_db(), station_id, g.user, scope=g.scope)
    entries = core.get_entries(get_db(), station_id, start, end, limit=5000)
    return jsonify(entries=[core.entry_json(e) for e in entries])


@bp.post("/meetings")
@allow("admin", "union")
def add_meeting():
    """Record a 职工沟通会 or 企业沟通会 (counts only)."""
    meeting = core.add_meeting(get_db(), _body(), g.user, strict=True, districts=_districts(), scope=g.scope)
    return jsonify(core.meeting_json(meeting)), 201


@bp.get("/meetings")
@allow("admin", "planner", "union")
def meetings():
    """Meetings, newest first (a union: its own)."""
    district = request.args.get("district") or None
    listed = core.list_meetings(get_db(), user=g.user, district=district, start=_day_param("from"),
                                end=_day_param("to"), limit=5000, scope=g.scope)
    return jsonify(meetings=[core.meeting_json(m) for m in listed])


@bp.post("/stations/<int:station_id>/checkins")
@allow(PUBLIC)
def checkin(station_id):
    """A rider's anonymous check-in (no body); rate-limited per client."""
    try:
        result = core.check_in(get_db(), station_id, client=client_id(), limits=checkin_limits())
    except RateLimited as exc:
        return too_many(checkin_refusal(exc), exc)
    return jsonify(result), 201


@bp.get("/reports/ledger")
@allow("admin", "planner", "union")
def report():
    """Figures in total, per district and per month (a union: its own stations and meetings)."""
    start, end = _day_param("from"), _day_param("to")
    result = core.ledger_report(get_db(), start=start, end=end, district=request.args.get("district") or None,
                                scope=g.scope, district_order=_districts())
    return jsonify(result)

