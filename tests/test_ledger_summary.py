"""The reports' summaries (per district and day, per station and month) stay equal to the
sums of the raw entries and check-ins through every kind of write: a replaced day, a
station moved to another district, a station deleted, periods that cut months."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from stations import ledger, storage
from stations.accounts import users
from stations.ledger.codes import SERVICE_COLUMNS, VISITOR_COLUMNS
from stations.ledger.reports import UNKNOWN_DISTRICT
from tests.conftest import make_station

FIGS = ("entries", "visits", "services", "checkins")


@pytest.fixture
def boss(fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    return users.get_user(fresh_db, "boss")


@pytest.fixture
def three(fresh_db):
    return [make_station(fresh_db, name=f"驿站{i}", district=d, lon=116.3 + i / 100, lat=39.9)
            for i, d in enumerate(("海淀区", "朝阳区", "海淀区"))]


def raw(db, start: date, end: date):
    """Figures by district, by month and by station summed straight from the entries and
    check-ins, with each station's district as it is now."""
    visits = " + ".join(f"e.{c}" for c in VISITOR_COLUMNS)
    services = " + ".join(f"e.{c}" for c in SERVICE_COLUMNS)
    span = [start.isoformat(), end.isoformat()]
    by = {"district": {}, "month": {}, "station": {}}

    def add(key_kind, key, figs):
        cell = by[key_kind].setdefault(key, dict.fromkeys(FIGS, 0))
        for name, value in figs.items():
            cell[name] += value

    for sid, dist, day, v, s in db.execute(
            f"SELECT s.id, s.district, e.date, {visits}, {services} FROM ledger_entries e "
            "JOIN stations s ON s.id = e.station_id WHERE e.date BETWEEN ? AND ?", span):
        figs = {"entries": 1, "visits": v, "services": s}
        add("district", dist or UNKNOWN_DISTRICT, figs), add("month", day[:7], figs), add("station", sid, figs)
    for sid, dist, day, n in db.execute(
            "SELECT s.id, s.district, c.date, c.count FROM checkin_days c "
            "JOIN stations s ON s.id = c.station_id WHERE c.date BETWEEN ? AND ?", span):
        figs = {"checkins": n}
        add("district", dist or UNKNOWN_DISTRICT, figs), add("month", day[:7], figs), add("station", sid, figs)
    return by


def assert_report_equals_raw(db, start: date, end: date):
    report = ledger.ledger_report(db, start=start, end=end)
    expected = raw(db, start, end)
    got_districts = {d["district"]: {k: d[k] for k in FIGS} for d in report["districts"]}
    assert got_districts == expected["district"]
    got_months = {m["month"]: {k: m[k] for k in FIGS} for m in report["months"] if any(m[k] for k in FIGS)}
    assert got_months == expected["month"]
    assert {k: report["total"][k] for k in FIGS} == {
        k: sum(cell[k] for cell in expected["district"].values()) for k in FIGS}
    table = {r["station_id"]: {k: r[k] for k in FIGS} for r in ledger.station_table(db, start=start, end=end)}
    assert table == expected["station"]
    return report


def fill(db, who, stations, days, base=1):
    for i, sid in enumerate(stations):
        for n, d in enumerate(days):
            ledger.save_entry(db, sid, {"date": d.isoformat(), "v_rider": str(base + i + n),
                                        "v_courier": str(i), "s_water": str(n % 3)}, who)
            if n % 2 == 0:
                db.execute("INSERT INTO checkin_days VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                           "count = count + excluded.count", [sid, d.isoformat(), i + 1])
    db.conn.commit()


def periods():
    """A past year, a year to date (this month partly to come), a span that cuts two
    months on either side, a span inside one month."""
    today = ledger.today()
    last = date(today.year - 1, 1, 1)
    return [(last, date(last.year, 12, 31)), (date(today.year, 1, 1), today),
            (today - timedelta(days=50), today - timedelta(days=3)),
            (date(today.year - 1, 3, 4), date(today.year - 1, 3, 27))]


def some_days():
    today = ledger.today()
    days = {today, today - timedelta(days=1), today - timedelta(days=40), today - timedelta(days=49)}
    days |= {date(today.year - 1, m, d) for m, d in ((1, 1), (3, 3), (3, 4), (3, 27), (3, 28), (12, 31))}
    days |= {date(today.year, 1, 1)}
    return sorted(d for d in days if d <= today)


def test_reports_equal_the_raw_entries_after_a_day_is_replaced(fresh_db, boss, three):
    fill(fresh_db, boss, three, some_days())
    for start, end in periods():
        assert_report_equals_raw(fresh_db, start, end)
    y = ledger.today().year - 1
    before = ledger.ledger_report(fresh_db, start=date(y, 3, 1), end=date(y, 3, 31))["total"]
    # the same day saved again with other counts: the summaries follow, nothing counted twice
    saved = ledger.save_entry(fresh_db, three[0], {"date": f"{y}-03-04", "v_rider": "500", "s_meal_heating": "7"},
                              boss)
    assert saved["replaced"]
    after = assert_report_equals_raw(fresh_db, date(y, 3, 1), date(y, 3, 31))["total"]
    assert after["entries"] == before["entries"]
    assert after["visits"] != before["visits"]
    for start, end in periods():
        assert_report_equals_raw(fresh_db, start, end)


def test_a_station_moved_to_another_district_takes_its_sums_along(fresh_db, boss, three):
    fill(fresh_db, boss, three, some_days())
    y = ledger.today().year - 1
    year = (date(y, 1, 1), date(y, 12, 31))
    before = {d["district"]: d["visits"] for d in ledger.ledger_report(fresh_db, start=year[0], end=year[1])["districts"]}
    moved = sum(e["visitors"]["rider"] + e["visitors"]["courier"]
                for e in ledger.get_entries(fresh_db, three[2], *year))
    assert moved
    storage.update_station(fresh_db, three[2], {"district": "朝阳区"}, username="boss")
    after = {d["district"]: d["visits"] for d in ledger.ledger_report(fresh_db, start=year[0], end=year[1])["districts"]}
    assert after == {"海淀区": before["海淀区"] - moved, "朝阳区": before["朝阳区"] + moved}
    one = ledger.ledger_report(fresh_db, start=year[0], end=year[1], district="朝阳区")["total"]
    assert one["visits"] == after["朝阳区"]
    for start, end in periods():
        assert_report_equals_raw(fresh_db, start, end)
    # to no district and back: counted under 未知区 meanwhile
    fresh_db.execute("UPDATE stations SET district = NULL WHERE id = ?", [three[1]])
    fresh_db.conn.commit()
    report = assert_report_equals_raw(fresh_db, *year)
    assert UNKNOWN_DISTRICT in {d["district"] for d in report["districts"]}
    fresh_db.execute("UPDATE stations SET district = '海淀区' WHERE id = ?", [three[1]])
    fresh_db.conn.commit()
    for start, end in periods():
        assert_report_equals_raw(fresh_db, start, end)


def test_a_deleted_station_leaves_the_reports(fresh_db, boss, three):
    fill(fresh_db, boss, three, some_days())
    with storage.write_transaction(fresh_db):
        fresh_db.execute("DELETE FROM stations WHERE id = ?", [three[0]])
    for start, end in periods():
        report = assert_report_equals_raw(fresh_db, start, end)
    assert fresh_db.execute("SELECT count(*) FROM ledger_district_days WHERE entries < 0 OR visits < 0 "
                            "OR checkins < 0").fetchone()[0] == 0
    assert report["total"]["stations"] == 2


def test_the_district_summary_is_built_from_existing_entries_by_the_migration(tmp_path):
    db = storage.connect(tmp_path / "old.db")
    storage.migrate(db, target=10)
    a = make_station(db, name="旧驿站", district="西城区")
    y = ledger.today().year - 1
    cols = ", ".join(VISITOR_COLUMNS[:2])
    db.execute(f"INSERT INTO ledger_entries (station_id, date, {cols}, saved_at) VALUES (?, ?, 3, 4, 0)",
               [a, f"{y}-05-06"])
    db.execute("INSERT INTO checkin_days VALUES (?, ?, 5)", [a, f"{y}-05-07"])
    db.conn.commit()
    storage.migrate(db)
    total = assert_report_equals_raw(db, date(y, 5, 1), date(y, 5, 31))["total"]
    assert (total["visits"], total["checkins"], total["entries"]) == (7, 5, 1)
