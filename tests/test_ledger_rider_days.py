"""Riders' evidence against a ledger's claims is counted in client-days (issue 14, item 4).

Three anonymous 5-star posts from one phone on one day used to clear the 面子工程 /
"台账来访多，骑手签到和反馈几乎为零" flag of a station claiming 2,324 visits: the flag
counted rows.  Now one phone at one station on one day counts once — for feedback and
for check-ins alike — and the organisers' page says what was counted.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from stations import ledger, storage
from stations.accounts import users
from stations.riders.feedback import submit_feedback
from tests.conftest import csrf_token, make_station

FEEDBACK_LIMITS = {"per_client": 100, "global": 1000}
CHECKIN_LIMITS = {"per_client": 100, "global": 1000, "repeat_minutes": 30}
COUNTED = "同一手机同一天只计一次"


@pytest.fixture
def claimer(fresh_db):
    """A station whose ledger claims 2,324 visits in the last 30 days (29 days of 80 and one of 4)."""
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    boss = users.get_user(fresh_db, "boss")
    sid = make_station(fresh_db, name="面子驿站", district="海淀区", host_union="海淀区总工会",
                       hours="24/7")  # check-ins at any hour the suite runs
    today = ledger.today()
    for n in range(29):
        ledger.save_entry(fresh_db, sid, {"date": (today - timedelta(days=n)).isoformat(), "v_rider": "80"}, boss)
    ledger.save_entry(fresh_db, sid, {"date": (today - timedelta(days=29)).isoformat(), "v_rider": "4"}, boss)
    return sid


def _claims(db, sid):
    return [f for f in ledger.consistency_flags(db) if f["kind"] == "claims" and f["station"]["id"] == sid]


def _at(days_ago, hour=12):
    return datetime.combine(ledger.today() - timedelta(days=days_ago), time(hour), tzinfo=storage.TZ)


def _post_feedback(client, sid, phone):
    token = csrf_token(client, f"/stations/{sid}")
    response = client.post(f"/stations/{sid}/feedback", data={"csrf_token": token, "rating": "5"},
                           environ_base={"REMOTE_ADDR": phone})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_three_five_star_posts_from_one_phone_on_one_day_do_not_clear_the_flag(client, auth, fresh_db, claimer):
    for _ in range(3):
        _post_feedback(client, claimer, "10.1.1.1")
    assert fresh_db.execute("SELECT count(*) FROM feedback WHERE station_id = ?", [claimer]).fetchone()[0] == 3
    [flag] = _claims(fresh_db, claimer)
    assert flag["figures"]["visits"] == 2324
    assert (flag["figures"]["feedback"], flag["figures"]["feedback_client_days"]) == (3, 1)
    auth.login("admin")
    page = client.get("/admin/flags").get_data(as_text=True)
    section = page[page.index('id="ledger-flags"'):]
    assert "面子驿站" in section and "台账记来访 <b>2,324</b> 人次" in section
    assert "反馈 <b>3</b> 条" in section  # what was submitted …
    assert f"骑手签到 0 人次·日、反馈 1 人次·日（{COUNTED}）" in section  # … and what was counted
    assert f"合计 ≤ 2 人次·日（{COUNTED}" in section  # the rule says it too


def test_three_phones_or_three_days_count_three(client, fresh_db, claimer):
    for phone in ("10.1.1.1", "10.1.1.2", "10.1.1.3"):
        _post_feedback(client, claimer, phone)
    assert _claims(fresh_db, claimer) == []
    fresh_db.execute("DELETE FROM feedback")
    fresh_db.conn.commit()
    assert _claims(fresh_db, claimer)  # flagged again without them
    for days_ago in (0, 1, 2):  # one phone on three days: three rider-days
        submit_feedback(fresh_db, claimer, MultiDict({"rating": "5"}), client="phone-1", limits=FEEDBACK_LIMITS,
                        at=_at(days_ago), now=1_800_000_000.0 + days_ago)
    assert _claims(fresh_db, claimer) == []


def test_old_feedback_without_a_client_counts_each_row_on_its_own(fresh_db, claimer):
    day = ledger.today().isoformat()
    fresh_db.conn.executemany("INSERT INTO feedback (station_id, at, rating) VALUES (?, ?, 5)",
                              [(claimer, f"{day}T10:0{n}:00+08:00") for n in range(3)])
    fresh_db.conn.commit()
    assert _claims(fresh_db, claimer) == []


def test_checkins_count_one_phone_once_a_day(fresh_db, claimer):
    now = 1_800_000_000.0
    for n in range(3):  # the same phone every 61 minutes: three check-ins, one rider-day
        ledger.check_in(fresh_db, claimer, client="phone-1", limits=CHECKIN_LIMITS, at=_at(0, 9 + n),
                        now=now + n * 61 * 60)
    assert ledger.checkin_count(fresh_db, claimer, ledger.today().isoformat()) == 3
    [flag] = _claims(fresh_db, claimer)
    assert (flag["figures"]["checkins"], flag["figures"]["checkin_client_days"]) == (3, 1)
    assert flag["figures"]["counted"] == f"骑手签到 1 人次·日、反馈 0 人次·日（{COUNTED}）"
    facts = ledger.ledger_evidence(fresh_db, [claimer])[claimer]
    assert (facts["checkins"], facts["checkin_client_days"]) == (3, 1)
    # two more phones that day: three rider-days, the flag clears
    for n, phone in enumerate(("phone-2", "phone-3")):
        ledger.check_in(fresh_db, claimer, client=phone, limits=CHECKIN_LIMITS, at=_at(0, 15),
                        now=now + 4 * 3600 + n)
    assert _claims(fresh_db, claimer) == []


def test_one_phone_checking_in_on_three_days_counts_three(fresh_db, claimer):
    now = 1_800_000_000.0
    for days_ago in (2, 1, 0):
        ledger.check_in(fresh_db, claimer, client="phone-1", limits=CHECKIN_LIMITS, at=_at(days_ago),
                        now=now + (2 - days_ago) * 86400)
    facts = ledger.ledger_evidence(fresh_db, [claimer])[claimer]
    assert (facts["checkins"], facts["checkin_client_days"]) == (3, 3)
    assert _claims(fresh_db, claimer) == []
    # only today's keyed hashes are kept, to tell a new phone from a repeat
    assert fresh_db.execute("SELECT DISTINCT date FROM checkin_clients").fetchall() == [(ledger.today().isoformat(),)]


def test_a_checkin_on_the_web_keeps_no_address(client, fresh_db, claimer):
    answer = client.post(f"/api/v1/stations/{claimer}/checkins", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert answer.status_code == 201
    [(key,)] = fresh_db.execute("SELECT client FROM checkin_clients").fetchall()
    assert "10.9.9.9" not in key and len(key) == 24
