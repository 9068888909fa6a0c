"""The report's station rows add up to its totals (issue 18, item 15): meetings held away
from stations have a row of their own (不在站点), and stations that share a name show
their numbers."""

from __future__ import annotations

import re
from datetime import date, timedelta

from stations import ledger
from stations.accounts import users
from tests.conftest import make_station


def test_station_rows_add_up_to_the_meeting_totals_and_repeated_names_show_numbers(client, auth, fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    boss = users.get_user(fresh_db, "boss")
    one = make_station(fresh_db, name="朝阳驿站", district="朝阳区", lon=116.48, lat=39.92)
    two = make_station(fresh_db, name="朝阳驿站", district="朝阳区", lon=116.49, lat=39.93)
    d = ledger.today() - timedelta(days=1)
    d = d if d.year == ledger.today().year else ledger.today()
    ledger.save_entry(fresh_db, one, {"date": d.isoformat(), "v_rider": "5"}, boss)
    ledger.save_entry(fresh_db, two, {"date": d.isoformat(), "v_rider": "3"}, boss)
    ledger.add_meeting(fresh_db, {"date": d.isoformat(), "kind": "worker", "station_id": str(one),
                                  "attendees": "20", "new_members": "4"}, boss)
    ledger.add_meeting(fresh_db, {"date": d.isoformat(), "kind": "enterprise", "district": "朝阳区",
                                  "place": "物流园区", "attendees": "30", "companies": "6", "new_unions": "2",
                                  "new_members": "9"}, boss)
    year = (date(d.year, 1, 1), date(d.year, 12, 31))
    total = ledger.ledger_report(fresh_db, start=year[0], end=year[1])["total"]
    rows = ledger.station_table(fresh_db, start=year[0], end=year[1])
    for figure in ("meetings_worker", "meetings_enterprise", "new_members", "new_unions", "visits"):
        assert sum(r[figure] for r in rows) == total[figure], figure
    away = rows[-1]
    assert away["station_id"] is None and away["name"] == "不在站点（会议）"
    assert (away["meetings_enterprise"], away["new_members"], away["new_unions"]) == (1, 9, 2)
    auth.login("admin")
    page = client.get(f"/ledger/reports?year={d.year}").get_data(as_text=True)
    table = page[page.index("<h2>各站点"):]
    assert f"朝阳驿站<span class=\"meta\">（编号 {one}）</span>" in table
    assert f"朝阳驿站<span class=\"meta\">（编号 {two}）</span>" in table
    assert re.search(r'<tr class="away"><td>不在站点（会议）</td>', table)
    assert "（来访最多的" not in table  # two stations, both shown


def test_charts_give_members_and_meetings_their_own_axes_and_mark_a_partial_month():
    """新入会 and 沟通会 drawn on the check-ins' axis were flat, and a 4-day December was
    drawn as a collapse (issue 18, item 16)."""
    from stations.ledger.charts import panels_chart

    months = ["2026-10", "2026-11", "2026-12"]
    svg = panels_chart(months, [("骑手签到", [4200, 3900, 500], "checkins"), ("新入会", [8, 12, 1], "members"),
                                ("沟通会", [3, 2, 0], "meetings")], title="签到、入会与沟通会",
                       partial=(2, "12月截至4日"))
    ticks = re.findall(r'<text class="axis" x="40" y="[\d.]+" text-anchor="end">([^<]*)</text>', svg)
    assert ticks == ["0", "2,500", "5,000", "0", "10", "20", "0", "3", "6"]  # three axes, one per series
    assert 'class="series members partial"' in svg and "12*" in svg and "*12月截至4日" in svg
    assert "<title>2026-12（12月截至4日） 新入会 1</title>" in svg


def test_the_report_page_marks_this_month_as_partial(client, auth, fresh_db):
    auth.login("admin")
    today = ledger.today()
    page = client.get(f"/ledger/reports?year={today.year}").get_data(as_text=True)
    import calendar

    if today.day < calendar.monthrange(today.year, today.month)[1]:
        assert f"（{today.month}月截至{today.day}日）" in page and f"*{today.month}月截至{today.day}日" in page
    assert page.count('class="chart panels-chart"') == 1
