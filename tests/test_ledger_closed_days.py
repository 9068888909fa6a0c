"""All-blank days are closed days, not kept ledger days (issue 18, item 20): a month of
blank rows padded the evidence that a station keeps its ledger.  They are counted apart:
in the report (total, districts, months, stations, the summary sentence), in the selection's
evidence and in the "ledger stopped" flag."""

from __future__ import annotations

from datetime import date, timedelta

from stations import ledger
from stations.accounts import users
from tests.conftest import make_station


def test_blank_days_are_closed_days_shown_apart_not_kept_days(fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    boss = users.get_user(fresh_db, "boss")
    sid = make_station(fresh_db, name="空白驿站", district="海淀区", host_union="海淀区总工会")
    y = ledger.today().year - 1
    for d in range(1, 6):  # five days with visitors
        ledger.save_entry(fresh_db, sid, {"date": f"{y}-03-{d:02d}", "v_rider": "4"}, boss)
    for d in range(6, 31):  # 25 blank days, one with only a note
        ledger.save_entry(fresh_db, sid, {"date": f"{y}-03-{d:02d}", "note": "闭站" if d == 6 else ""}, boss)
    report = ledger.ledger_report(fresh_db, start=date(y, 1, 1), end=date(y, 12, 31), with_kinds=True)
    assert report["total"]["entries"] == 5 and report["total"]["closed_days"] == 25
    assert [(d["district"], d["entries"], d["closed_days"]) for d in report["districts"]] == [("海淀区", 5, 25)]
    march = next(m for m in report["months"] if m["month"] == f"{y}-03")
    assert (march["entries"], march["closed_days"]) == (5, 25)
    # a partly covered month is summed from its days: the same split
    part = ledger.ledger_report(fresh_db, start=date(y, 3, 4), end=date(y, 3, 10))["total"]
    assert (part["entries"], part["closed_days"]) == (2, 5)
    [row] = ledger.station_table(fresh_db, start=date(y, 1, 1), end=date(y, 12, 31))
    assert (row["entries"], row["closed_days"]) == (5, 25)
    sentence = ledger.year_summary(report, scope="全市")
    assert "驿站服务台账共记 5 天" in sentence and "另有闭站（全空）25 天" in sentence


def test_blank_days_do_not_make_a_kept_ledger_in_the_evidence(fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    boss = users.get_user(fresh_db, "boss")
    sid = make_station(fresh_db, name="补空白驿站", district="海淀区", host_union="海淀区总工会")
    today = ledger.today()
    for n in range(60):  # 60 of the last 90 days written, only 10 with anything in them
        counts = {"v_rider": "3"} if n < 10 else {}
        ledger.save_entry(fresh_db, sid, {"date": (today - timedelta(days=n)).isoformat(), **counts}, boss)
    facts = ledger.ledger_evidence(fresh_db, [sid])[sid]
    assert facts["entries"] == 10 and facts["closed_days"] == 50
    assert facts["kept"] is False  # was True: 60 of 90 days "kept"
