"""Evidence that workers can get in and use a nominee: hours, rider ratings, reports, the ledger.

The review form shows it beside the criteria; the ranking's 面子工程 flag weighs it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from ..hours import HoursError, parse_hours
from ..ledger.evidence import ledger_evidence
from ..riders.feedback import satisfaction
from ..storage import TZ, get_station
from .ranking import LEDGER_DAYS

__all__ = ["evidence_of_use", "station_facts"]


@lru_cache(maxsize=4096)
def _week(hours_text):
    """(hours open a week, 24-hour) from the stored hours text; (None, False) if unreadable."""
    if not hours_text:
        return None, False
    try:
        hours = parse_hours(hours_text)
    except HoursError:
        return None, False
    week = getattr(hours, "days", None)
    if week is None and getattr(hours, "seasons", None):
        week = hours.seasons[0].week.days
    if week is None:
        return None, bool(getattr(hours, "is_24h", False))
    minutes = sum(end - start for day in week for start, end in day)
    return round(minutes / 60, 1), bool(hours.is_24h)


def evidence_of_use(db, station_ids) -> dict:
    """{station id: evidence that workers can get in and use it} for the review form and flags.

    Hours open per week and 24-hour or not (from the registry's hours), rider rating and
    count (``feedback.satisfaction``), "closed"/"not found" reports in the past year and
    still open, the last verified date; and ``ledger``, the service ledger's last
    LEDGER_DAYS (``stations.ledger.ledger_evidence``: days kept, visits, services,
    check-ins, meetings), with ``ledger_in_use``: whether any of these stations has a
    ledger entry or a check-in in them (only then does the ranking weigh the ledger's
    figures: see ranking.RULES["face"]).
    """
    ids = [int(i) for i in station_ids]
    if not ids:
        return {}
    ledger = ledger_evidence(db, ids, days=LEDGER_DAYS)
    in_use = any(f["entries"] or f["checkins"] for f in ledger.values())
    ratings = satisfaction(db) if len(ids) > 50 else {i: satisfaction(db, i) for i in ids}
    since = (datetime.now(TZ) - timedelta(days=365)).isoformat(timespec="seconds")
    out = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        reports = {r[0]: (r[1], r[2]) for r in db.execute(
            f"SELECT station_id, sum(at >= ?), sum(resolved_at IS NULL) FROM feedback WHERE station_id IN ({marks}) "
            "AND flag IN ('closed', 'not_found') GROUP BY station_id", [since] + chunk)}
        for sid, hours, verified in db.execute(
                f"SELECT id, hours, last_verified_at FROM stations WHERE id IN ({marks})", chunk):
            per_week, always = _week(hours)
            rating = ratings.get(sid) or {"mean": None, "count": 0}
            year, still_open = reports.get(sid, (0, 0))
            out[sid] = {"hours_per_week": 168.0 if always else per_week, "is_24h": always,
                        "rating": rating["mean"], "rating_count": rating["count"],
                        "reports_year": year or 0, "reports_open": still_open or 0,
                        "last_verified_at": verified, "ledger": ledger[sid], "ledger_in_use": in_use}
    return out


def station_facts(db, station_id) -> dict:
    """The station, its evidence of use and its ledger's last 90 days (``ledger_facts``)."""
    station = get_station(db, station_id)
    evidence = evidence_of_use(db, [station["id"]])[station["id"]]
    return {"station": station, "evidence": evidence, "ledger_facts": evidence["ledger"]}
