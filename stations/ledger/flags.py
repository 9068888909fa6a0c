"""Consistency flags: a ledger that claims what riders do not show, or a ledger that stops.

Self-reported figures are held against independent ones (DESIGN §6b): a station whose
ledger claims many visits in the window while riders' check-ins and feedback there are
near zero is flagged (counted in client-days: one phone at the station on one day counts
once, so three posts from one phone do not clear a flag), and so is an active station
that kept a ledger and then stopped.  The thresholds are settings, stated on the
organisers' page with the figures behind each flag.  An organiser who has checked a
flag quiets it for one window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from ..riders.feedback import feedback_days
from ..storage import now_iso, write_transaction
from ..text import forbidden_character, refusal
from .checkins import COUNTED_ONCE, repeat_checkins, riders_counted
from .codes import VISITOR_COLUMNS, LedgerError, closed_day_sql
from .common import today

__all__ = ["Thresholds", "FLAG_KINDS", "consistency_flags", "quiet_flag"]

FLAG_KINDS = {"claims": "台账来访多，骑手签到和反馈几乎为零", "stopped": "台账中断"}


@dataclass(frozen=True)
class Thresholds:
    window_days: int = 30    # the window the figures are counted over
    min_visits: int = 300    # ledger visits in the window that count as "many"
    near_zero: int = 2       # riders' client-days (check-ins + feedback) in the window at most this: "near zero"
    stop_days: int = 14      # no entry for this many days after a kept ledger
    kept_entries: int = 10   # entries in the 60 days before the last one: the ledger was kept

    @classmethod
    def from_settings(cls, config=None) -> Thresholds:
        """The thresholds of the settings ``YIZHAN_LEDGER_FLAG_*`` and ``YIZHAN_LEDGER_STOP_DAYS``
        (``config``: an app's configuration; None: the environment)."""
        if config is None:
            from ..settings import from_environ
            config = from_environ()
        return cls(window_days=int(config["YIZHAN_LEDGER_FLAG_DAYS"]),
                   min_visits=int(config["YIZHAN_LEDGER_FLAG_VISITS"]),
                   near_zero=int(config["YIZHAN_LEDGER_FLAG_NEAR_ZERO"]),
                   stop_days=int(config["YIZHAN_LEDGER_STOP_DAYS"]))

    def describe(self) -> list[str]:
        return [f"近 {self.window_days} 天台账来访 ≥ {self.min_visits} 人次，而同期骑手签到与反馈合计 ≤ "
                f"{self.near_zero} 人次·日（{COUNTED_ONCE}：一部手机在一个站点一天签到、反馈多少次都只算一次）："
                f"标记为“{FLAG_KINDS['claims']}”",
                f"正常开放的站点此前坚持记台账（最后一次记账前 60 天内 ≥ {self.kept_entries} 天），"
                f"却已连续 {self.stop_days} 天以上没有记账：标记为“{FLAG_KINDS['stopped']}”"]


def _quiet(db, as_of: date) -> set:
    return {(r[0], r[1]) for r in db.execute(
        "SELECT station_id, kind FROM ledger_flag_reviews WHERE quiet_until >= ?", [as_of.isoformat()])}


def consistency_flags(db, thresholds: Thresholds = Thresholds(), *, as_of: date | None = None,
                      scope=None) -> list[dict]:
    """Flagged stations with the figures behind each flag, most visits first.

    Each item: {"kind", "label", "station": {id, name, district, host_union},
    "figures": {…}}.  ``claims`` figures: visits, days kept, check-ins and feedback as
    submitted, and as client-days (``checkin_client_days``, ``feedback_client_days``: one
    phone at the station on one day counts once; these decide the flag), ``counted``: the
    sentence saying so; ``stopped``: last entry, days since, entries in the 60 days before it.
    """
    t, as_of = thresholds, as_of or today()
    start = as_of - timedelta(days=t.window_days - 1)
    span = [start.isoformat(), as_of.isoformat()]
    where, params = scope.sql("s.host_union_id") if scope is not None else ("", [])
    quiet = _quiet(db, as_of)
    names = {r[0]: {"id": r[0], "name": r[1], "district": r[2], "host_union": r[3]} for r in db.execute(
        f"SELECT s.id, s.name, s.district, s.host_union FROM stations s WHERE s.status = 'active'{where}",
        params)}
    visits = " + ".join(f"e.{c}" for c in VISITOR_COLUMNS)
    claimed = {r[0]: (r[1], r[2]) for r in db.execute(
        f"SELECT s.id, sum({visits}), count(*) FROM stations s CROSS JOIN ledger_entries e "
        f"ON e.station_id = s.id AND e.date BETWEEN ? AND ? WHERE s.status = 'active'{where} "
        f"GROUP BY s.id HAVING sum({visits}) >= ?", span + params + [t.min_visits])}
    out = []
    if claimed:
        ids = list(claimed)
        checkins, repeats, feedback = {}, repeat_checkins(db, ids, *span), feedback_days(db, ids, *span)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join("?" for _ in chunk)
            checkins.update(db.execute(
                f"SELECT station_id, sum(count) FROM checkin_days WHERE station_id IN ({marks}) "
                "AND date BETWEEN ? AND ? GROUP BY station_id", chunk + span).fetchall())
        for sid, (v, days) in claimed.items():
            c = int(checkins.get(sid, 0) or 0)
            c_days = c - int(repeats.get(sid, 0) or 0)
            f, f_days = feedback.get(sid, (0, 0))
            # riders' evidence in client-days: three posts from one phone on one day are one
            if c_days + f_days <= t.near_zero and (sid, "claims") not in quiet:
                out.append({"kind": "claims", "label": FLAG_KINDS["claims"], "station": names[sid],
                            "figures": {"from": span[0], "to": span[1], "visits": int(v), "days": days,
                                        "checkins": c, "feedback": f, "checkin_client_days": c_days,
                                        "feedback_client_days": f_days,
                                        "counted": f"{riders_counted(c_days, f_days)}（{COUNTED_ONCE}）"}})
    cutoff = (as_of - timedelta(days=t.stop_days)).isoformat()
    for sid, last in db.execute(
            "SELECT s.id, (SELECT max(date) FROM ledger_entries WHERE station_id = s.id "
            f"AND NOT ({closed_day_sql()})) AS last "  # blank days do not keep a ledger going
            f"FROM stations s WHERE s.status = 'active'{where}", params):
        if last is None or last > cutoff or (sid, "stopped") in quiet:
            continue
        last_day = date.fromisoformat(last)
        kept = db.execute("SELECT count(*) FROM ledger_entries WHERE station_id = ? AND date BETWEEN ? AND ? "
                          f"AND NOT ({closed_day_sql()})",
                          [sid, (last_day - timedelta(days=59)).isoformat(), last]).fetchone()[0]
        if kept >= t.kept_entries:
            out.append({"kind": "stopped", "label": FLAG_KINDS["stopped"], "station": names[sid],
                        "figures": {"last_entry": last, "days_since": (as_of - last_day).days,
                                    "entries_before": kept}})
    out.sort(key=lambda f: (f["kind"] != "claims", -f["figures"].get("visits", 0),
                            -f["figures"].get("days_since", 0), f["station"]["id"]))
    return out


def quiet_flag(db, station_id, kind: str, *, username: str, note: str = "",
               thresholds: Thresholds = Thresholds(), as_of: date | None = None) -> str:
    """An organiser has checked a flag: it stays quiet for one window; returns until when."""
    if kind not in FLAG_KINDS:
        raise LedgerError("不认识的标记类型", "kind")
    found = forbidden_character(note or "")
    if found:
        raise LedgerError(f"备注{refusal(found)}", "note")
    until = ((as_of or today()) + timedelta(days=thresholds.window_days)).isoformat()
    with write_transaction(db):
        db.execute("INSERT INTO ledger_flag_reviews (station_id, kind, reviewed_at, reviewed_by, note, "
                   "quiet_until) VALUES (?, ?, ?, ?, ?, ?)",
                   [int(station_id), kind, now_iso(), username, (note or "")[:300] or None, until])
    return until


def thresholds_dict(t: Thresholds) -> dict:
    return asdict(t)
