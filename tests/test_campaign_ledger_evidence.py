"""The service ledger (issue 8) as evidence of use in the selection (issue 9).

The reviewer's form shows the station's ledger panel beside the photos, and the
ranking's 面子工程 flag weighs the ledger's and riders' check-ins' last 90 days where
the ledger is in use: a station scored high with a kept ledger and riders checking in
is not flagged; one scored the same with neither is.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from stations import campaign as cp
from stations import ledger
from stations.accounts import users
from stations.campaign.ranking import CLAIMED_VISITS, FACE_HIGH_TOTAL, FEW_CHECKINS, RULES
from tests.conftest import make_station
from tests.test_campaign_ranking_vectorised import random_campaign, ref_rank_campaign

LIMITS = {"per_client": 100, "global": 1000}
_INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.I)


def _ledger(entries=0, checkins=0, visits=None, kept=None, feedback=0):
    return {"days": 90, "entries": entries, "visits": entries * 3 if visits is None else visits, "services": 0,
            "meetings": 0, "new_members": 0, "new_unions": 0, "checkins": checkins, "feedback": feedback,
            "last_entry": None,
            "kept": entries >= 45 if kept is None else kept}


def _rank(evidence):
    rubric = cp.default_rubric()
    keys = [c["key"] for c in rubric["criteria"]]
    high = {k: 9 for k in keys}  # total 90: "high", so the evidence of use decides
    nominees = [{"station_id": i, "name": f"s{i}"} for i in sorted(evidence)]
    reviews = [{"id": i, "station_id": i, "reviewer_id": "r", "scores": high, "items": []} for i in sorted(evidence)]
    return {r["station_id"]: r for r in cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)["ranking"]}


def test_kept_ledger_and_checkins_clear_a_high_score_none_flags_it():
    base = {"hours_per_week": 84.0, "is_24h": False, "rating": None, "rating_count": 0, "reports_year": 0}
    evidence = {1: {**base, "ledger": _ledger(entries=60, checkins=40), "ledger_in_use": True},
                2: {**base, "ledger": _ledger(), "ledger_in_use": True},
                3: {**base, "ledger": _ledger(entries=80, checkins=FEW_CHECKINS, visits=CLAIMED_VISITS),
                    "ledger_in_use": True},
                4: {**base, "ledger": _ledger(entries=20, checkins=FEW_CHECKINS + 1), "ledger_in_use": True},
                5: {**base, "ledger": _ledger(entries=50, checkins=0, visits=300), "ledger_in_use": True},
                # riders' feedback is use the station did not report, as check-ins are (the ledger
                # flags count both): enough of it clears a station, too little with check-ins does not
                6: {**base, "ledger": _ledger(entries=10, feedback=FEW_CHECKINS + 1), "ledger_in_use": True},
                7: {**base, "ledger": _ledger(entries=10, checkins=1, feedback=FEW_CHECKINS - 1),
                    "ledger_in_use": True}}
    rows = _rank(evidence)
    assert rows[1]["total"] >= FACE_HIGH_TOTAL and rows[1]["flags"] == []
    assert rows[2]["flags"] == ["face_project"]
    assert "近 90 天骑手签到 0 人次·日、反馈 0 人次·日（同一手机同一天只计一次），服务台账仅 0 天有记录" in rows[2]["face_reasons"][0]
    assert rows[3]["flags"] == ["face_project"]  # the ledger claims many visits that riders do not show
    assert f"台账记来访 {CLAIMED_VISITS:,} 人次，骑手却只签到 {FEW_CHECKINS} 人次·日、反馈 0 人次·日" in rows[3]["face_reasons"][0]
    assert rows[4]["flags"] == []  # riders do check in: used, even without a kept ledger
    assert rows[5]["flags"] == []  # a kept ledger with modest visits: honest, if quiet
    assert rows[6]["flags"] == []
    assert rows[7]["flags"] == ["face_project"]
    assert f"骑手签到 1 人次·日、反馈 {FEW_CHECKINS - 1} 人次·日（同一手机同一天只计一次），服务台账仅 10 天有记录" in rows[7]["face_reasons"][0]
    # Where the ledger is not in use (no nominee has an entry or a check-in), its absence says nothing.
    for ev in evidence.values():
        ev["ledger_in_use"] = False
    assert all(r["flags"] == [] for r in _rank(evidence).values())


def test_the_rule_on_the_page_states_the_ledger_thresholds():
    face = RULES["face"]
    assert "90 天" in face and f"骑手签到与反馈合计不超过 {FEW_CHECKINS} 人次·日（同一手机同一天只计一次）" in face
    assert "服务台账未坚持记录" in face and f"来访 {CLAIMED_VISITS:g} 人次以上" in face


@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_ranking_agrees_with_the_reference_with_ledger_evidence(seed):
    nominees, reviews, rubric, evidence = random_campaign(seed)
    for n, sid in enumerate(sorted(evidence)):
        evidence[sid].update(ledger=_ledger(entries=(n * 7) % 91, checkins=n % 4, visits=(n * 97) % 2000),
                             ledger_in_use=True)
    want = ref_rank_campaign(nominees, reviews, rubric, evidence=evidence)
    got = cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)
    assert got == want
    assert any("台账" in "".join(r["face_reasons"]) for r in got["ranking"])


# --- through the database and the pages ----------------------------------------------------

@pytest.fixture
def campaign(app, fresh_db):
    """Two stations nominated and scored 9 on every criterion by the one reviewer; the first
    keeps its ledger (60 of the last 90 days) and riders check in there; the second has neither."""
    db = fresh_db
    admin, reviewer = users.get_user(db, "admin"), users.get_user(db, "reviewer")
    # open around the clock: riders check in whatever hour the suite runs (no check-in when 已打烊)
    kept = make_station(db, name="记账驿站", host_union="东城区总工会", hours="24/7")
    bare = make_station(db, name="空壳驿站", host_union="东城区总工会", lon=116.40, hours="24/7")
    today = ledger.today()
    for n in range(60):
        ledger.save_entry(db, kept, {"date": (today - timedelta(days=n)).isoformat(), "v_rider": "3",
                                     "s_water": "2"}, admin)
    for n in range(5):
        ledger.check_in(db, kept, client=f"rider-{n}", limits=LIMITS)
    cid = cp.create_campaign(db, {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2,
                                  "subsidy_yuan": 20000, "reviewers_per_station": 1}, admin)
    for sid in (kept, bare):
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")
    cp.assign_reviewers(db, cid, admin)
    keys = [c["key"] for c in cp.get_campaign(db, cid)["rubric"]["criteria"]]
    for sid in (kept, bare):
        cp.save_review(db, cid, sid, {"scores": {k: 9 for k in keys}, "items": [], "submit": True}, reviewer)
    return {"db": db, "cid": cid, "kept": kept, "bare": bare, "admin": admin}


def test_live_ranking_flags_the_station_without_ledger_or_checkins(campaign):
    db, cid = campaign["db"], campaign["cid"]
    rows = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert rows[campaign["kept"]]["total"] == rows[campaign["bare"]]["total"] == 90.0
    assert rows[campaign["kept"]]["flags"] == []
    assert rows[campaign["bare"]]["flags"] == ["face_project"]
    assert "骑手签到 0 人次·日" in rows[campaign["bare"]]["face_reasons"][0]
    # The live ranking is kept per process: a new ledger and check-ins must not be hidden by it.
    today = ledger.today()
    for n in range(50):
        ledger.save_entry(db, campaign["bare"], {"date": (today - timedelta(days=n)).isoformat(), "v_rider": "1"},
                          campaign["admin"])
    for n in range(3):
        ledger.check_in(db, campaign["bare"], client=f"rider-{n}", limits=LIMITS)
    rows = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert rows[campaign["bare"]]["flags"] == []


def test_reviewer_form_shows_the_ledger_panel_beside_the_photos(client, auth, campaign):
    auth.login("reviewer")
    answer = client.get(f"/campaigns/{campaign['cid']}/review/{campaign['kept']}")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and not _INLINE.search(html)
    facts = html[html.index('<div class="facts">'):html.index('<form method="post" class="form">')]  # the cards
    assert "使用证据" in facts and "ledger-evidence" in facts and "服务台账（近 90 天）" in facts
    assert "60 天有记录" in facts and "“服务台账”优先项有据" in facts
    assert "180 人次 / 120 次" in facts and re.search(r"骑手签到/反馈</dt><dd>5 次 / 0 条", facts)
    bare = client.get(f"/campaigns/{campaign['cid']}/review/{campaign['bare']}").get_data(as_text=True)
    assert "0 天有记录（没有台账）" in bare and re.search(r"骑手签到/反馈</dt><dd>0 次 / 0 条", bare)


def test_inspection_form_shows_the_ledger_panel_too(client, auth, campaign):
    """An inspection outside any campaign weighs the same evidence as a review."""
    auth.login("reviewer")
    html = client.get(f"/campaigns/inspect/{campaign['kept']}").get_data(as_text=True)
    panel = html[html.index("ledger-evidence"):html.index('<form method="post" class="form">')]
    assert "服务台账（近 90 天）" in panel and "60 天有记录" in panel and "“服务台账”优先项有据" in panel
    assert re.search(r"骑手签到/反馈</dt><dd>5 次 / 0 条", panel)
    bare = client.get(f"/campaigns/inspect/{campaign['bare']}").get_data(as_text=True)
    assert "0 天有记录（没有台账）" in bare


def test_ranking_page_states_the_rule_and_shows_the_reason(client, auth, campaign):
    auth.login("admin")
    html = client.get(f"/campaigns/{campaign['cid']}/ranking").get_data(as_text=True)
    assert f"骑手签到与反馈合计不超过 {FEW_CHECKINS} 人次·日（同一手机同一天只计一次），而服务台账未坚持记录" in html
    assert "近 90 天骑手签到 0 人次·日、反馈 0 人次·日（同一手机同一天只计一次），服务台账仅 0 天有记录" in html


def test_the_ledger_flag_settings_set_the_face_project_rule(client, app, auth, campaign, monkeypatch):
    """The 面子工程 rule's ledger part uses the ledger flags' settings (YIZHAN_LEDGER_FLAG_*):
    the kept station (180 visits in 90 days, 5 check-ins) passes the defaults (900, 2) but
    not 60 visits a month with 5 check-ins counted as near zero."""
    db, cid, kept = campaign["db"], campaign["cid"], campaign["kept"]
    rows = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert rows[kept]["flags"] == []
    strict = ledger.Thresholds(min_visits=60, near_zero=5)
    rows = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid), thresholds=strict)["ranking"]}
    assert rows[kept]["flags"] == ["face_project"]
    assert "近 90 天台账记来访 180 人次，骑手却只签到 5 人次·日、反馈 0 人次·日" in rows[kept]["face_reasons"][0]
    # without thresholds given (the command line, the frozen 公示 list): the environment's settings
    monkeypatch.setenv("YIZHAN_LEDGER_FLAG_VISITS", "60")
    monkeypatch.setenv("YIZHAN_LEDGER_FLAG_NEAR_ZERO", "5")
    rows = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert rows[kept]["flags"] == ["face_project"]
    # the pages: the app's settings, stated with the rule
    auth.login("admin")
    html = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "骑手签到与反馈合计不超过 2 人次·日" in html and "台账记来访 900 人次以上" in html
    assert "台账记来访 180 人次，骑手却只签到 5 人次·日" not in html
    app.config.update(YIZHAN_LEDGER_FLAG_VISITS=60, YIZHAN_LEDGER_FLAG_NEAR_ZERO=5)
    html = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "骑手签到与反馈合计不超过 5 人次·日" in html and "台账记来访 180 人次以上" in html and "每 30 天 60 人次" in html
    assert "近 90 天台账记来访 180 人次，骑手却只签到 5 人次·日、反馈 0 人次·日" in html
    answer = client.get(f"/api/v1/campaigns/{cid}/ranking").get_json()
    assert {r["station_id"]: r["flags"] for r in answer["ranking"]}[kept] == ["face_project"]
    assert "台账记来访 180 人次以上" in answer["rules"]["face"]


def _feedback(db, sid, client, days_ago=0):
    from datetime import datetime, time

    from werkzeug.datastructures import MultiDict

    from stations import storage
    from stations.riders.feedback import submit_feedback

    at = datetime.combine(ledger.today() - timedelta(days=days_ago), time(12), tzinfo=storage.TZ)
    submit_feedback(db, sid, MultiDict({"rating": "5"}), client=client, limits=LIMITS, at=at)


def test_three_posts_from_one_phone_on_one_day_leave_the_face_project_flag(client, auth, campaign):
    """Item 4 of issue 14: feedback counts in client-days (one phone, one day: once), as the
    ledger flags count it; the reason, the page, the API and the reviewer's panel say so."""
    db, cid, bare = campaign["db"], campaign["cid"], campaign["bare"]
    for _ in range(3):
        _feedback(db, bare, "one-phone")
    row = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}[bare]
    counted = "骑手签到 0 人次·日、反馈 1 人次·日（同一手机同一天只计一次）"
    assert row["flags"] == ["face_project"] and counted in row["face_reasons"][0]
    auth.login("admin")
    assert counted in client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    answer = client.get(f"/api/v1/campaigns/{cid}/ranking").get_json()
    [api_row] = [r for r in answer["ranking"] if r["station_id"] == bare]
    assert api_row["flags"] == ["face_project"] and counted in api_row["face_reasons"][0]
    assert "人次·日（同一手机同一天只计一次）" in answer["rules"]["face"]
    auth.logout()
    auth.login("reviewer")
    panel = client.get(f"/campaigns/{cid}/review/{bare}").get_data(as_text=True)
    assert re.search(r"骑手签到/反馈</dt><dd>0 次 / 3 条", panel)
    assert "按人次·日计：签到 0 人次·日、反馈 1 人次·日（同一手机同一天只计一次" in panel
    # two more phones: three rider-days, the flag clears
    for phone in ("phone-2", "phone-3"):
        _feedback(db, bare, phone)
    row = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}[bare]
    assert row["flags"] == []


def test_one_phone_on_three_days_counts_three_in_the_ranking(campaign):
    db, cid, bare = campaign["db"], campaign["cid"], campaign["bare"]
    for days_ago in (0, 1, 2):
        _feedback(db, bare, "one-phone", days_ago)
    row = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}[bare]
    assert row["flags"] == []


def test_repeated_checkins_from_one_phone_on_one_day_count_once_in_the_ranking(campaign):
    db, cid, bare = campaign["db"], campaign["cid"], campaign["bare"]
    now = 1_800_000_000.0
    for n in range(3):  # every 61 minutes: past the repeat limit, still one phone on one day
        ledger.check_in(db, bare, client="one-phone", limits={**LIMITS, "repeat_minutes": 30},
                        now=now + n * 61 * 60)
    row = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}[bare]
    assert row["flags"] == ["face_project"]
    assert "骑手签到 1 人次·日、反馈 0 人次·日" in row["face_reasons"][0]


# --- the evidence's sums: whole months from the summary, the ends from the entries --------

def _by_the_day(db, sid, start, end):
    """The ledger's figures summed from the days themselves: what ledger_evidence must equal."""
    from stations.ledger.codes import SERVICE_COLUMNS, VISITOR_COLUMNS

    span = [sid, start.isoformat(), end.isoformat()]
    every = " + ".join(VISITOR_COLUMNS + SERVICE_COLUMNS)
    n, closed, v, s, last = db.execute(  # an all-blank day is a closed day, not a kept one
        f"SELECT coalesce(sum({every} > 0), 0), coalesce(sum({every} = 0), 0), "
        f"coalesce(sum({' + '.join(VISITOR_COLUMNS)}), 0), "
        f"coalesce(sum({' + '.join(SERVICE_COLUMNS)}), 0), max(date) FROM ledger_entries "
        "WHERE station_id = ? AND date BETWEEN ? AND ?", span).fetchone()
    c = db.execute("SELECT coalesce(sum(count), 0) FROM checkin_days WHERE station_id = ? AND date BETWEEN ? AND ?",
                   span).fetchone()[0]
    f = db.execute("SELECT count(*) FROM feedback WHERE station_id = ? AND substr(at, 1, 10) BETWEEN ? AND ?",
                   span).fetchone()[0]
    f_days = db.execute(  # a client's posts on one day once; a post without a client on its own
        "SELECT count(*) FROM (SELECT DISTINCT coalesce(client, 'row ' || id), substr(at, 1, 10) FROM feedback "
        "WHERE station_id = ? AND substr(at, 1, 10) BETWEEN ? AND ?)", span).fetchone()[0]
    repeats = db.execute("SELECT coalesce(sum(count), 0) FROM checkin_repeats WHERE station_id = ? "
                         "AND date BETWEEN ? AND ?", span).fetchone()[0]
    return {"entries": n, "closed_days": closed, "visits": v, "services": s, "last_entry": last, "checkins": c, "feedback": f,
            "checkin_client_days": c - repeats, "feedback_client_days": f_days}


def test_ledger_evidence_equals_the_sum_of_the_days_for_any_window(fresh_db):
    import random
    from datetime import date

    from stations.ledger.evidence import ledger_evidence

    db, rng = fresh_db, random.Random(8)
    users.add_user(db, "boss", "password-123", "admin")
    admin = users.get_user(db, "boss")
    stations = [make_station(db, name=f"站{i}", lon=116.39 + i * 0.001) for i in range(4)]
    last = ledger.today()
    for sid in stations[:3]:
        for n in range(200):
            if rng.random() < 0.6:
                ledger.save_entry(db, sid, {"date": (last - timedelta(days=n)).isoformat(),
                                            "v_rider": str(rng.randrange(0, 9)), "s_water": str(rng.randrange(0, 5))},
                                  admin)
    ledger.save_entry(db, stations[0], {"date": last.isoformat(), "v_rider": "7"}, admin)  # a replaced day
    with db.conn:
        db.conn.executemany("INSERT INTO checkin_days (station_id, date, count) VALUES (?, ?, ?)",
                            [(sid, (last - timedelta(days=n)).isoformat(), rng.randrange(1, 4))
                             for sid in stations[1:] for n in range(200) if rng.random() < 0.5])
        db.conn.executemany("INSERT INTO feedback (station_id, at, rating) VALUES (?, ?, ?)",
                            [(sid, f"{(last - timedelta(days=n)).isoformat()}T{rng.randrange(24):02d}:10:00+08:00",
                              rng.randrange(1, 6)) for sid in stations[::2] for n in range(200) if rng.random() < 0.3])
        # posts from a few phones, some of them more than once a day; repeated check-ins
        db.conn.executemany("INSERT INTO feedback (station_id, at, rating, client) VALUES (?, ?, 5, ?)",
                            [(sid, f"{(last - timedelta(days=n)).isoformat()}T{rng.randrange(24):02d}:20:00+08:00",
                              f"phone-{rng.randrange(3)}") for sid in stations[1:] for n in range(200)
                             for _ in range(rng.choice((0, 0, 1, 3)))])
        db.conn.executemany("INSERT INTO checkin_repeats (station_id, date, count) SELECT station_id, date, "
                            "count - 1 FROM checkin_days WHERE station_id = ? AND count > 1 AND "
                            "(julianday(date) * 7) % 3 < 2", [(sid,) for sid in stations])
    days_back = [0, 1, 13, 29, 45, 60, 90]
    for as_of in {last - timedelta(days=n) for n in days_back} | {date(last.year, last.month, 1)}:
        for days in (1, 28, 31, 90):
            got = ledger_evidence(db, stations + stations[:1], days=days, as_of=as_of)
            assert set(got) == set(stations)
            for sid in stations:
                want = _by_the_day(db, sid, as_of - timedelta(days=days - 1), as_of)
                assert {k: got[sid][k] for k in want} == want, (as_of, days, sid)
                assert got[sid]["kept"] is (want["entries"] >= 0.5 * days)
