"""Every figure of a ledger report belongs to its period (issue 18, item 13): the riders'
rating too — the 2020 report showed a rating given this year."""

from __future__ import annotations

from datetime import date, datetime, time

from werkzeug.datastructures import MultiDict

from stations import ledger
from stations.accounts import users
from stations.riders.feedback import submit_feedback
from stations.storage import TZ
from tests.conftest import make_station

LIMITS = {"per_client": 100, "global": 1000}


def test_the_rating_of_a_report_counts_only_the_ratings_given_in_its_period(fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    boss = users.get_user(fresh_db, "boss")
    sid = make_station(fresh_db, name="海淀驿站", district="海淀区", host_union="海淀区总工会")
    ledger.save_entry(fresh_db, sid, {"date": "2020-06-01", "v_rider": "10"}, boss)
    this_year = ledger.today()
    submit_feedback(fresh_db, sid, MultiDict({"rating": "1"}), client="phone-1", limits=LIMITS,
                    at=datetime.combine(this_year, time(9), TZ), now=1_800_000_000.0)
    submit_feedback(fresh_db, sid, MultiDict({"rating": "5"}), client="phone-2", limits=LIMITS,
                    at=datetime(2020, 6, 1, 12, tzinfo=TZ), now=1_800_000_001.0)
    old = ledger.ledger_report(fresh_db, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert old["total"]["visits"] == 10
    assert (old["total"]["rating"], old["total"]["rating_count"]) == (5, 1)  # not this year's 1 star
    assert [(d["rating"], d["rating_count"]) for d in old["districts"]] == [(5, 1)]
    [row] = ledger.station_table(fresh_db, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert (row["rating"], row["rating_count"]) == (5, 1)
    assert ledger.station_table(fresh_db, start=date(2019, 1, 1), end=date(2019, 12, 31)) == []
    none = ledger.ledger_report(fresh_db, start=date(2019, 1, 1), end=date(2019, 12, 31))["total"]
    assert (none["rating"], none["rating_count"]) == (None, 0)
    assert "评分" not in ledger.year_summary(ledger.ledger_report(fresh_db, start=date(2019, 1, 1),
                                                                  end=date(2019, 12, 31)), scope="全市")
    now = ledger.ledger_report(fresh_db, start=date(this_year.year, 1, 1))["total"]
    assert (now["rating"], now["rating_count"]) == (1, 1)
