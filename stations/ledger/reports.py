"""Reports: visits, services, check-ins, meetings, members and unions gained — per
station, district and month — and the yearly summary sentence.

Figures by district come from ``ledger_district_days`` (the sums per district and day,
kept up to date by triggers on every write and on a station's change of district): a
year is a few thousand rows whatever the number of stations.  Figures by station (and a
part of the union tree's, limited to its stations) read whole months from ``ledger_months``
(per station and month, also kept by triggers); a partly covered first or last month
is summed from the entries, station by station through the primary key — or, when the
days left out are fewer (a year to date: the rest of this month is still to come), as
the month's summary minus the days left out.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, timedelta

from ..riders.feedback import satisfaction
from .codes import COUNT_COLUMNS, SERVICE_COLUMNS, SERVICES, VISITOR_COLUMNS, VISITORS, closed_day_sql
from .common import EARLIEST, today

__all__ = ["FIGURES", "FIGURE_LABELS", "ledger_report", "station_table", "year_summary", "period",
           "partial_month"]

FIGURES = ("visits", "services", "checkins", "meetings_worker", "meetings_enterprise",
           "new_members", "new_unions")
FIGURE_LABELS = {"visits": "来访人次", "services": "服务次数", "checkins": "骑手签到",
                 "meetings_worker": "职工沟通会", "meetings_enterprise": "企业沟通会",
                 "new_members": "新入会会员", "new_unions": "新建企业工会", "entries": "台账天数",
                 "closed_days": "闭站天数（全空）",
                 "rating": "骑手评分", "rating_count": "评价人数"}
_SUMS = ("entries", "visits", "services") + COUNT_COLUMNS + ("checkins",)
_MEETING_SUMS = ("meetings_worker", "meetings_enterprise", "new_members", "new_unions",
                 "attendees", "companies")
UNKNOWN_DISTRICT = "未知区"
AWAY_ROW = "不在站点（会议）"  # the station table's row of meetings held away from stations


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The period a report covers: clamped to the days a ledger can have (2015 to today)."""
    end = min(end or today(), today())
    start = max(start or date(end.year, 1, 1), EARLIEST)
    return start, end


def _months(start: date, end: date):
    """(full months as 'YYYY-MM', partial spans as (month, first day, last day))."""
    full, partial = [], []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        first, last = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
        key = f"{y:04d}-{m:02d}"
        if first >= start and last <= end:
            full.append(key)
        else:
            partial.append((key, max(first, start), min(last, end)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return full, partial


def _scoped(scope) -> bool:
    return scope is not None and not scope.everything


def _scope(district, scope):
    """(' AND …', params) on stations ``s``: the district, and the part of the union tree."""
    clauses, params = [], []
    if district:
        clauses.append("s.district = ?")
        params.append(district)
    where = "".join(" AND " + c for c in clauses)
    if _scoped(scope):
        condition, more = scope.sql("s.host_union_id")
        where, params = where + condition, params + more
    return where, params


def _add(table, key, values):
    row = table.get(key)
    if row is None:
        table[key] = dict(values)
        return
    for name, value in values.items():
        row[name] = (row.get(name) or 0) + (value or 0)


_BRIEF = ("entries", "visits", "services", "checkins")  # what a station's row shows


def _month_rows(db, key_sql, first, last, where, params, by_month, kinds=True):
    """Sums of ``ledger_months`` from month ``first`` to ``last`` ('YYYY-MM'); per visitor
    kind and service too with ``kinds``."""
    names = _SUMS if kinds else _BRIEF
    cols = ", ".join(f"sum(m.{c})" for c in names)
    rows = db.execute(
        f"SELECT {key_sql}, {'m.month' if by_month else chr(39) * 2}, {cols} FROM ledger_months m "
        f"JOIN stations s ON s.id = m.station_id WHERE m.month BETWEEN ? AND ?{where} "
        f"GROUP BY 1{', 2' if by_month else ''}", [first, last] + params)
    for row in rows:
        yield (row[0], row[1]), dict(zip(names, row[2:]))


def _day_rows(db, key_sql, first: date, last: date, where, params, *, sign=1, kinds=True):
    """{key: sums} of the entries and check-ins from ``first`` to ``last`` (days)."""
    visits = " + ".join(f"e.{c}" for c in VISITOR_COLUMNS)
    services = " + ".join(f"e.{c}" for c in SERVICE_COLUMNS)
    columns = COUNT_COLUMNS if kinds else ()
    cols = "".join(f", sum(e.{c})" for c in columns)
    span = [first.isoformat(), last.isoformat()]
    # CROSS JOIN keeps stations outside: one primary-key range per station.
    for row in db.execute(
            f"SELECT {key_sql}, count(*), sum({visits}), sum({services}){cols} FROM stations s "
            f"CROSS JOIN ledger_entries e ON e.station_id = s.id AND e.date BETWEEN ? AND ? "
            f"WHERE 1{where} GROUP BY 1", span + params):
        yield row[0], _signed(dict(zip(("entries", "visits", "services") + columns, row[1:])), sign)
    for row in db.execute(
            f"SELECT {key_sql}, sum(c.count) FROM stations s CROSS JOIN checkin_days c "
            f"ON c.station_id = s.id AND c.date BETWEEN ? AND ? WHERE 1{where} GROUP BY 1", span + params):
        yield row[0], {"checkins": sign * (row[1] or 0)}


def _signed(values: dict, sign: int) -> dict:
    return values if sign == 1 else {k: -(v or 0) for k, v in values.items()}


def _left_out(month: str, first: date, last: date) -> list[tuple[date, date]]:
    """The days of ``month`` outside ``first``..``last``, as spans."""
    y, m = int(month[:4]), int(month[5:])
    month_first, month_last = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
    spans = []
    if first > month_first:
        spans.append((month_first, first - timedelta(days=1)))
    if last < month_last:
        spans.append((last + timedelta(days=1), month_last))
    return spans


def _ledger_sums(db, key_sql, start, end, district, scope, *, by_month: bool = True, kinds: bool = True):
    """{(key, month): sums} of the ledger and check-ins, key = district or station id
    (month '' for every cell when not ``by_month``: one cell per key, far fewer to add up;
    without ``kinds`` only entries, visits, services and check-ins: a quarter of the sums)."""
    where, params = _scope(district, scope)
    full, partial = _months(start, end)
    now = today()
    summary_months, by_days, left_out = list(full), [], []
    for month, first, last in partial:
        spans = _left_out(month, first, last)
        # Days after today hold no entries (no future days) and cost nothing to read.
        days_out = sum((min(b, now) - a).days + 1 for a, b in spans if a <= now)
        if days_out < (last - first).days + 1:  # cheaper: the whole month less the days left out
            summary_months.append(month)
            left_out += [(month, a, b) for a, b in spans]
        else:
            by_days.append((month, first, last))
    out = {}
    if summary_months:  # full months and the months read whole: one contiguous range
        for key, values in _month_rows(db, key_sql, min(summary_months), max(summary_months), where, params,
                                       by_month, kinds):
            _add(out, key, values)
    for spans, sign in ((by_days, 1), (left_out, -1)):
        for month, first, last in spans:
            cell = month if by_month else ""
            for key, values in _day_rows(db, key_sql, first, last, where, params, sign=sign, kinds=kinds):
                _add(out, (key, cell), values)
    return out


def _district_sums(db, start, end, district):
    """{(district, month): sums} from ``ledger_district_days`` (None: no district)."""
    cols = ", ".join(f"sum({c})" for c in _SUMS)
    sql = (f"SELECT district, substr(date, 1, 7), {cols} FROM ledger_district_days "
           f"WHERE date BETWEEN ? AND ?")
    params = [start.isoformat(), end.isoformat()]
    if district:
        sql += " AND district = ?"
        params.append(district)
    out = {}
    for row in db.execute(sql + " GROUP BY 1, 2", params):
        if not any(row[2:]):
            continue  # a district whose stations all moved away
        _add(out, (row[0] or None, row[1]), dict(zip(_SUMS, row[2:])))
    return out


def _closed_sums(db, key_sql, start, end, district, scope, *, by_month: bool = True):
    """{(key, month): {"entries": -n, "closed_days": n}}: the closed (all-blank) days the
    summaries counted as entries, moved apart (read through the partial index of m017)."""
    where, params = _scope(district, scope)
    month = "substr(e.date, 1, 7)" if by_month else "''"
    out = {}
    for key, cell, n in db.execute(
            f"SELECT {key_sql}, {month}, count(*) FROM ledger_entries e JOIN stations s ON s.id = e.station_id "
            f"WHERE {closed_day_sql('e')} AND e.date BETWEEN ? AND ?{where} GROUP BY 1, 2",
            [start.isoformat(), end.isoformat()] + params):
        out[(key, cell)] = {"entries": -n, "closed_days": n}
    return out


def _meeting_sums(db, key_sql, start, end, district, scope):
    clauses, params = ["date BETWEEN ? AND ?"], [start.isoformat(), end.isoformat()]
    if district:
        clauses.append("district = ?")
        params.append(district)
    if _scoped(scope):
        condition, more = scope.sql("union_id")
        clauses.append(condition.removeprefix(" AND "))
        params += more
    out = {}
    for row in db.execute(
            f"SELECT {key_sql}, substr(date, 1, 7), sum(kind = 'worker'), sum(kind = 'enterprise'), "
            "sum(new_members), sum(new_unions), sum(attendees), sum(companies) FROM meetings "
            f"WHERE {' AND '.join(clauses)} GROUP BY 1, 2", params):
        _add(out, (row[0], row[1]), dict(zip(_MEETING_SUMS, row[2:])))
    return out


def _figures(sums: dict) -> dict:
    out = {name: int(sums.get(name, 0) or 0) for name in FIGURES}
    out["entries"] = int(sums.get("entries", 0) or 0)  # kept days: something recorded
    out["closed_days"] = int(sums.get("closed_days", 0) or 0)  # all-blank days, apart
    return out


def _merge(*tables):
    merged = {}
    for table in tables:
        for key, values in table.items():
            _add(merged, key, values)
    return merged


def _rating(ratings: dict, station_ids) -> dict:
    total = count = 0
    for sid in station_ids:
        r = ratings.get(sid)
        if r and r["count"]:
            total += r["mean"] * r["count"]
            count += r["count"]
    return {"rating": round(total / count, 2) if count else None, "rating_count": count}


def ledger_report(db, *, start: date | None = None, end: date | None = None, district=None,
                  scope=None, district_order=(), with_kinds: bool = False) -> dict:
    """Figures for a period: {"period", "total", "districts": […], "months": […]}.

    Every figure (``FIGURES``, and ``entries``: ledger days kept) is a whole number.
    ``scope`` (a ``stations.unions.scope.Scope``) limits stations and meetings to a part of
    the union tree (a ``union`` user's union, a district admin's subtree).
    The total carries the riders' rating of the stations in scope (ratings given in the
    period, as every figure) and, with
    ``with_kinds``, visits per visitor kind and services per code.
    """
    start, end = period(start, end)
    if start > end:
        empty = _figures({})
        return {"period": {"from": start.isoformat(), "to": end.isoformat()}, "total": empty,
                "districts": [], "months": []}
    ledger = (_ledger_sums(db, "s.district", start, end, district, scope) if _scoped(scope)
              else _district_sums(db, start, end, district))
    cells = _merge(ledger, _meeting_sums(db, "district", start, end, district, scope),
                   _closed_sums(db, "s.district", start, end, district, scope))
    by_month, by_district, total = {}, {}, {}
    for (dist, month), sums in cells.items():
        _add(by_month, month, sums)
        _add(by_district, dist or UNKNOWN_DISTRICT, sums)
        _add(total, "all", sums)
    full, partial = _months(start, end)
    months = sorted(set(full) | {p[0] for p in partial})
    order = {name: i for i, name in enumerate(district_order)}
    names = sorted(by_district, key=lambda d: (order.get(d, len(order)), d))
    totals = total.get("all", {})
    out_total = _figures(totals)
    where, params = _scope(district, scope)
    ids_by_district = {}
    for sid, dist in db.execute(f"SELECT s.id, s.district FROM stations s WHERE 1{where}", params):
        ids_by_district.setdefault(dist or UNKNOWN_DISTRICT, []).append(sid)
    ratings = satisfaction(db, start=start, end=end)
    out_total.update(_rating(ratings, [i for ids in ids_by_district.values() for i in ids]))
    out_total["stations"] = sum(len(ids) for ids in ids_by_district.values())
    if with_kinds:
        out_total["visitors"] = {c[2:]: int(totals.get(c, 0)) for c in VISITOR_COLUMNS}
        out_total["services_by"] = {c[2:]: int(totals.get(c, 0)) for c in SERVICE_COLUMNS}
        out_total["attendees"] = int(totals.get("attendees", 0))
        out_total["companies"] = int(totals.get("companies", 0))
    districts = []
    for name in names:
        row = {"district": name, **_figures(by_district[name])}
        row.update(_rating(ratings, ids_by_district.get(name, [])))
        districts.append(row)
    return {"period": {"from": start.isoformat(), "to": end.isoformat()}, "total": out_total,
            "districts": districts,
            "months": [{"month": m, **_figures(by_month.get(m, {}))} for m in months]}


def station_table(db, *, start: date | None = None, end: date | None = None, district=None,
                  scope=None, limit: int | None = None) -> list[dict]:
    """One row per station in scope with any figure: name, district, the figures and its
    rating (given in the period), ``same_name`` when another row has its name; most visits
    first.  Meetings held away from stations follow in a last row (``station_id`` None,
    ``AWAY_ROW``), so the rows add up to the report's totals."""
    start, end = period(start, end)
    if start > end:
        return []
    per_station = {sid: sums for (sid, _month), sums in
                   _ledger_sums(db, "s.id", start, end, district, scope, by_month=False, kinds=False).items()}
    away = {}  # meetings held elsewhere than at a station: their own row, so the rows add up
    for (sid, _month), sums in _meeting_sums(db, "station_id", start, end, district, scope).items():
        if sid is None:
            _add(away, "all", sums)
        else:
            _add(per_station, sid, sums)
    for (sid, _month), sums in _closed_sums(db, "s.id", start, end, district, scope, by_month=False).items():
        _add(per_station, sid, sums)
    where, params = _scope(district, scope)
    ratings = satisfaction(db, start=start, end=end)
    rows = []
    for sid, name, dist, union_name, synthetic in db.execute(
            f"SELECT s.id, s.name, s.district, s.host_union, s.synthetic FROM stations s WHERE 1{where}", params):
        sums = per_station.get(sid)
        if sums is not None and not any(sums.values()):
            sums = None  # a month's summary less the days left out: nothing in the period
        rating = ratings.get(sid) or {"mean": None, "count": 0}
        if sums is None and not rating["count"]:
            continue
        rows.append({"station_id": sid, "name": name, "district": dist or UNKNOWN_DISTRICT,
                     "host_union": union_name, "synthetic": bool(synthetic), **_figures(sums or {}),
                     "rating": rating["mean"], "rating_count": rating["count"]})
    rows.sort(key=lambda r: (-r["visits"], -r["checkins"], r["station_id"]))
    names = Counter(r["name"] for r in rows)
    for row in rows:
        row["same_name"] = names[row["name"]] > 1  # shown with its number
    rows = rows[:limit] if limit else rows
    if away:
        rows.append({"station_id": None, "name": AWAY_ROW, "district": "—", "host_union": None,
                     "synthetic": False, **_figures(away["all"]), "rating": None, "rating_count": 0,
                     "same_name": False})
    return rows


def partial_month(report: dict) -> tuple[int, str] | None:
    """(index in ``report["months"]``, "12月截至4日") when the period ends inside its last
    month (this month so far): a chart marks it rather than draw a collapse."""
    if not report["months"]:
        return None
    end = date.fromisoformat(report["period"]["to"])
    if end.day == calendar.monthrange(end.year, end.month)[1] or report["months"][-1]["month"] != end.isoformat()[:7]:
        return None
    return len(report["months"]) - 1, f"{end.month}月截至{end.day}日"


def _n(value) -> str:
    return f"{int(value):,}"


def year_summary(report: dict, *, scope: str = "全市", title: str = "") -> str:
    """The figures as a sentence, like the newspaper's: "全区共召开职工沟通会 N 场…"."""
    t = report["total"]
    parts = [f"{title}{scope}共召开职工沟通会 {_n(t['meetings_worker'])} 场、企业沟通会 "
             f"{_n(t['meetings_enterprise'])} 场，发展工会会员 {_n(t['new_members'])} 人，"
             f"推动企业建会 {_n(t['new_unions'])} 家"]
    ledger = f"驿站服务台账共记 {_n(t['entries'])} 天"
    if t.get("closed_days"):
        ledger += f"（另有闭站（全空）{_n(t['closed_days'])} 天）"
    ledger += f"，接待户外劳动者 {_n(t['visits'])} 人次"
    kinds = t.get("visitors") or {}
    top = [(VISITORS[k], v) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v][:3]
    if top:
        ledger += "（其中" + "、".join(f"{label} {_n(v)} 人次" for label, v in top) + "）"
    ledger += f"，提供饮水、热饭、充电等服务 {_n(t['services'])} 次"
    parts.append(ledger)
    riders = f"骑手扫码“我在这里歇脚了”签到 {_n(t['checkins'])} 次"
    if t.get("rating_count"):
        riders += f"，对驿站的评分平均 {t['rating']:.1f} 分（{_n(t['rating_count'])} 人评价）"
    parts.append(riders)
    return "；".join(parts) + "。"


SERVICE_LABELS = SERVICES
