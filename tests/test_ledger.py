"""The service ledger's core: one entry per day with history, who may write, meetings,
check-ins, the month import, report sums against hand-computed figures, flags."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from stations import ledger
from stations.accounts import users
from stations.ledger import LedgerError
from stations.accounts.limits import RateLimited
from tests.conftest import make_station
from stations.unions.scope import scope_of

HAIDIAN = "海淀区总工会"
CHAOYANG = "朝阳区总工会"


@pytest.fixture
def people(fresh_db):
    users.add_user(fresh_db, "boss", "boss-pass-1", "admin")
    users.add_user(fresh_db, "hd", "hd-pass-12", "union", HAIDIAN, create_union=True)
    users.add_user(fresh_db, "cy", "cy-pass-12", "union", CHAOYANG, create_union=True)
    return {name: users.get_user(fresh_db, name) for name in ("boss", "hd", "cy")}


@pytest.fixture
def two(fresh_db):
    # open around the clock: riders check in whatever hour the suite runs (no check-in when 已打烊)
    a = make_station(fresh_db, name="海淀驿站", district="海淀区", host_union=HAIDIAN, lon=116.30, lat=39.96,
                     hours="24/7")
    b = make_station(fresh_db, name="朝阳驿站", district="朝阳区", host_union=CHAOYANG, lon=116.48, lat=39.92,
                     hours="24/7")
    return a, b


def day(n=1):
    return (ledger.today() - timedelta(days=n)).isoformat()


def test_one_entry_per_day_a_second_replaces_it_and_is_kept_in_history(fresh_db, people, two):
    a, _ = two
    first = ledger.save_entry(fresh_db, a, {"date": day(), "v_rider": "12", "v_courier": "3",
                                            "s_water": "10", "note": "第一次"}, people["hd"])
    assert first["replaced"] is False
    second = ledger.save_entry(fresh_db, a, {"date": day(), "v_rider": "20", "s_water": "5"}, people["boss"])
    assert second["replaced"] is True
    entries = ledger.get_entries(fresh_db, a)
    assert len(entries) == 1
    assert entries[0]["visitors"]["rider"] == 20 and entries[0]["visitors"]["courier"] == 0
    history = ledger.entry_history(fresh_db, a, day())
    assert len(history) == 1 and history[0]["replaced_by"] == "boss"
    assert history[0]["before"]["visitors"]["rider"] == 12 and history[0]["before"]["note"] == "第一次"
    # the monthly summary follows the replacement
    report = ledger.ledger_report(fresh_db, start=ledger.today() - timedelta(days=40))
    assert report["total"]["visits"] == 20 and report["total"]["services"] == 5
    assert report["total"]["entries"] == 1


def test_a_union_user_cannot_write_another_unions_ledger(fresh_db, people, two):
    a, b = two
    with pytest.raises(LedgerError) as refused:
        ledger.save_entry(fresh_db, b, {"date": day(), "v_rider": "1"}, people["hd"])
    assert refused.value.status == 403 and "朝阳区总工会" in refused.value.message
    assert ledger.get_entries(fresh_db, b) == []
    with pytest.raises(LedgerError) as missing:
        ledger.save_entry(fresh_db, 99999, {"date": day(), "v_rider": "1"}, people["boss"])
    assert missing.value.status == 404
    # admin may write any station
    assert ledger.save_entry(fresh_db, b, {"date": day(), "v_rider": "1"}, people["boss"])["entry"]


@pytest.mark.parametrize("data, field, words", [
    ({"date": (date.today() + timedelta(days=3)).isoformat()}, "date", "未来"),
    ({"date": "2026-02-30"}, "date", "不存在"),
    ({"date": "昨天"}, "date", "看不懂"),
    ({"v_rider": "-3"}, "v_rider", "负数"),
    ({"v_rider": "2.5"}, "v_rider", "不是整数"),
    ({"s_water": "99999"}, "s_water", "不合常理"),
    ({"note": "x" * 501}, "note", "最多 500 字"),
])
def test_bad_days_are_refused_with_the_field_and_a_chinese_reason(fresh_db, people, two, data, field, words):
    with pytest.raises(LedgerError) as exc:
        ledger.save_entry(fresh_db, two[0], {"date": day(), **data}, people["hd"])
    assert words in exc.value.errors[field]
    assert ledger.get_entries(fresh_db, two[0]) == []


def test_json_entries_take_codes_and_refuse_unknown_ones(fresh_db, people, two):
    saved = ledger.save_entry(fresh_db, two[0], {"date": day(), "visitors": {"rider": 4, "trucker": 1},
                                                 "services": {"charging": 2}}, people["hd"], strict=True)
    assert saved["entry"]["visitors"] == {"rider": 4, "courier": 0, "sanitation": 0, "driver": 0,
                                          "trucker": 1, "other": 0}
    with pytest.raises(LedgerError) as exc:
        ledger.save_entry(fresh_db, two[0], {"date": day(), "visitors": {"alien": 1}}, people["hd"], strict=True)
    assert "alien" in exc.value.message
    with pytest.raises(LedgerError):
        ledger.save_entry(fresh_db, two[0], {"date": day(), "visitors": {"rider": "4"}}, people["hd"], strict=True)


def test_meetings_store_counts_only_and_follow_the_union_rule(fresh_db, people, two):
    a, b = two
    m = ledger.add_meeting(fresh_db, {"date": day(), "kind": "worker", "station_id": str(a), "attendees": "40",
                                      "new_members": "12"}, people["hd"])
    assert m["district"] == "海淀区" and m["union_name"] == HAIDIAN and m["new_members"] == 12
    with pytest.raises(LedgerError) as exc:
        ledger.add_meeting(fresh_db, {"date": day(), "kind": "worker", "station_id": str(b), "attendees": "3"},
                           people["hd"])
    assert exc.value.status == 403
    with pytest.raises(LedgerError) as exc:  # a meeting nobody came to was not held
        ledger.add_meeting(fresh_db, {"date": day(), "kind": "worker", "station_id": str(a), "attendees": "0"},
                           people["hd"])
    assert exc.value.errors == {"attendees": "参加人数至少 1 人：没有人参加的会不算召开"}
    with pytest.raises(LedgerError) as exc:  # nor a meeting with companies that no company came to
        ledger.add_meeting(fresh_db, {"date": day(), "kind": "enterprise", "station_id": str(a),
                                      "attendees": "4"}, people["hd"])
    assert exc.value.errors == {"companies": "企业沟通会至少要有 1 家企业到会"}
    with pytest.raises(LedgerError) as exc:
        ledger.add_meeting(fresh_db, {"date": day(), "kind": "party", "place": "x", "district": "海淀区"},
                           people["hd"])
    assert "kind" in exc.value.errors
    with pytest.raises(LedgerError) as exc:
        ledger.add_meeting(fresh_db, {"date": day(), "kind": "worker", "place": "街道", "district": "海淀区",
                                      "attendees": "5", "new_members": "9"}, people["hd"])
    assert "new_members" in exc.value.errors
    assert [x["id"] for x in ledger.list_meetings(fresh_db, user=people["cy"])] == []
    assert [x["id"] for x in ledger.list_meetings(fresh_db, user=people["hd"])] == [m["id"]]
    columns = {r[1] for r in fresh_db.execute("PRAGMA table_info(meetings)")}
    assert not columns & {"name", "phone", "id_number", "worker"}  # no personal data


def test_checkins_are_counted_per_day_and_rate_limited_without_storing_the_client(fresh_db, two):
    limits = {"per_client": 3, "global": 100, "repeat_minutes": 30}
    now = 1_800_000_000.0
    first = ledger.check_in(fresh_db, two[0], client="c1", limits=limits, now=now)
    assert first["count"] == 1
    with pytest.raises(RateLimited) as again:
        ledger.check_in(fresh_db, two[0], client="c1", limits=limits, now=now + 60)
    assert again.value.scope == "station"
    ledger.check_in(fresh_db, two[0], client="c2", limits=limits, now=now + 60)
    ledger.check_in(fresh_db, two[1], client="c1", limits=limits, now=now + 120)
    assert ledger.checkin_count(fresh_db, two[0], first["date"]) == 2
    rows = fresh_db.execute("SELECT * FROM checkin_days").fetchall()
    assert all(len(r) == 3 for r in rows)  # station, date, count: nothing about the rider


def write_csv(tmp_path, text, name="month.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_month_import_reports_every_bad_row_and_writes_nothing(fresh_db, people, two, tmp_path):
    a, b = two
    future = (ledger.today() + timedelta(days=2)).isoformat()
    text = ("站点编号,日期,外卖骑手,快递员,饮水,热饭,备注\n"
            f"{a},{day(3)},5,2,6,1,好\n"
            f"{a},{future},5,2,6,1,\n"
            f"{a},{day(4)},-1,2,6,1,\n"
            f"{a},{day(5)},3.5,2,100000,1,\n"
            "888888,{d},1,1,1,1,\n".format(d=day(6))
            + f"{b},{day(6)},1,1,1,1,\n"
            f"{a},{day(3)},1,1,1,1,\n")
    report = ledger.import_ledger(fresh_db, write_csv(tmp_path, text), people["hd"])
    assert not report.ok and report.written == 0
    found = {(p.row, p.column): p.message for p in report.problems}
    assert "未来" in found[(3, "日期")]
    assert "负数" in found[(4, "外卖骑手")]
    assert "不是整数" in found[(5, "外卖骑手")] and "不合常理" in found[(5, "饮水")]
    assert "没有编号为 888888" in found[(6, "站点编号")]
    assert "不是本工会" in found[(7, "站点编号")]
    assert "第 2 行已有" in found[(8, "日期")]
    assert report.error_rows == 6
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_month_import_writes_a_clean_file_replacing_days_with_history(fresh_db, people, two, tmp_path):
    a, _ = two
    ledger.save_entry(fresh_db, a, {"date": day(3), "v_rider": "100"}, people["hd"])
    text = ("驿站月度服务台账\n"
            "站点编号,日期,外卖骑手（人次）,快递员,环卫工人,饮水服务,充电,备注\n"
            f"{a},{day(3)},5,2,1,6,1,=HYPERLINK(1)\n"
            f"{a},{day(2)},7,0,0,3,2,\n")
    report = ledger.import_ledger(fresh_db, write_csv(tmp_path, text), people["hd"])
    assert report.ok, report.problems
    assert report.written == 2 and report.replaced == 1
    entries = {e["date"]: e for e in ledger.get_entries(fresh_db, a)}
    assert entries[day(3)]["visitors"]["rider"] == 5 and entries[day(3)]["services"]["charging"] == 1
    assert ledger.entry_history(fresh_db, a, day(3))[0]["before"]["visitors"]["rider"] == 100
    total = ledger.ledger_report(fresh_db, start=ledger.today() - timedelta(days=60))["total"]
    assert total["visits"] == 5 + 2 + 1 + 7 and total["services"] == 6 + 1 + 3 + 2


def test_import_reads_other_as_the_service_beside_other_workers_and_never_drops_it(fresh_db, people, two, tmp_path):
    a, _ = two
    text = ("站点编号,日期,外卖骑手,其他户外劳动者,饮水,其他,备注\n"
            f"{a},{day(2)},5,2,6,4,\n")
    report = ledger.import_ledger(fresh_db, write_csv(tmp_path, text), people["hd"])
    assert report.ok and report.ignored_columns == []
    entry = ledger.get_entries(fresh_db, a)[0]
    assert entry["visitors"]["other"] == 2 and entry["services"]["other"] == 4
    alone = ledger.import_ledger(fresh_db, write_csv(tmp_path, f"站点编号,日期,外卖骑手,其他\n{a},{day(1)},5,4\n"),
                                 people["hd"])
    assert alone.file_errors and "“其他户外劳动者”或“其他服务”" in alone.file_errors[0] and alone.written == 0


def test_import_refuses_a_file_without_the_columns_it_needs(fresh_db, people, tmp_path):
    report = ledger.import_ledger(fresh_db, write_csv(tmp_path, "名称,地址\nx,y\n"), people["boss"])
    assert report.file_errors and "表头" in report.file_errors[0]


def test_report_sums_match_a_hand_computed_example(fresh_db, people, two):
    a, b = two
    y = ledger.today().year - 1  # a whole past year: every month full
    save = ledger.save_entry
    save(fresh_db, a, {"date": f"{y}-01-05", "v_rider": "10", "v_courier": "5", "s_water": "8"}, people["boss"])
    save(fresh_db, a, {"date": f"{y}-01-31", "v_rider": "1", "s_charging": "2"}, people["boss"])
    save(fresh_db, b, {"date": f"{y}-03-10", "v_sanitation": "4", "s_meal_heating": "4"}, people["boss"])
    fresh_db.execute("INSERT INTO checkin_days VALUES (?, ?, 7)", [a, f"{y}-01-20"])
    fresh_db.execute("INSERT INTO checkin_days VALUES (?, ?, 2)", [b, f"{y}-03-11"])
    fresh_db.conn.commit()
    for kind, district, members, unions in (("worker", "海淀区", 30, 0), ("worker", "朝阳区", 5, 0),
                                            ("enterprise", "海淀区", 0, 2)):
        ledger.add_meeting(fresh_db, {"date": f"{y}-03-01", "kind": kind, "place": "街道工会服务站",
                                      "district": district, "attendees": "50", "companies": "8",
                                      "new_members": str(members),
                                      "new_unions": str(unions)}, people["boss"])
    report = ledger.ledger_report(fresh_db, start=date(y, 1, 1), end=date(y, 12, 31), with_kinds=True)
    total = report["total"]
    assert (total["visits"], total["services"], total["checkins"]) == (20, 14, 9)
    assert (total["meetings_worker"], total["meetings_enterprise"], total["new_members"],
            total["new_unions"]) == (2, 1, 35, 2)
    months = {m["month"]: m for m in report["months"]}
    assert len(months) == 12
    assert (months[f"{y}-01"]["visits"], months[f"{y}-01"]["checkins"]) == (16, 7)
    assert (months[f"{y}-03"]["visits"], months[f"{y}-03"]["meetings_worker"]) == (4, 2)
    districts = {d["district"]: d for d in report["districts"]}
    assert districts["海淀区"]["visits"] == 16 and districts["海淀区"]["new_unions"] == 2
    assert districts["朝阳区"]["visits"] == 4 and districts["朝阳区"]["new_members"] == 5
    # a period that cuts months: only the days inside count
    part = ledger.ledger_report(fresh_db, start=date(y, 1, 10), end=date(y, 3, 10))["total"]
    assert (part["visits"], part["checkins"], part["meetings_worker"]) == (1 + 4, 7, 2)
    # a union user's report holds its own stations and meetings only
    union = ledger.ledger_report(fresh_db, start=date(y, 1, 1), end=date(y, 12, 31),
                                 scope=scope_of(fresh_db, people["cy"]))["total"]
    assert (union["visits"], union["checkins"], union["meetings_worker"]) == (4, 2, 0)
    sentence = ledger.year_summary(report, scope="全市", title=f"{y}年，")
    assert sentence.startswith(f"{y}年，全市共召开职工沟通会 2 场、企业沟通会 1 场，发展工会会员 35 人，推动企业建会 2 家")
    assert "接待户外劳动者 20 人次（其中外卖骑手 11 人次" in sentence
    table = {r["station_id"]: r for r in ledger.station_table(fresh_db, start=date(y, 1, 1), end=date(y, 12, 31))}
    assert table[a]["visits"] == 16 and table[a]["entries"] == 2 and table[b]["checkins"] == 2


def test_a_ledger_that_claims_visits_riders_do_not_show_is_flagged(fresh_db, people, two):
    a, b = two
    as_of = ledger.today()
    for n in range(10):
        d = (as_of - timedelta(days=n)).isoformat()
        ledger.save_entry(fresh_db, a, {"date": d, "v_rider": "40"}, people["boss"])  # 400 visits
        ledger.save_entry(fresh_db, b, {"date": d, "v_rider": "40"}, people["boss"])
    fresh_db.execute("INSERT INTO checkin_days VALUES (?, ?, 9)", [b, as_of.isoformat()])
    fresh_db.conn.commit()
    flags = ledger.consistency_flags(fresh_db, ledger.Thresholds(min_visits=300, near_zero=2), as_of=as_of)
    claims = [f for f in flags if f["kind"] == "claims"]
    assert [f["station"]["id"] for f in claims] == [a]
    assert claims[0]["figures"] == {"from": (as_of - timedelta(days=29)).isoformat(), "to": as_of.isoformat(),
                                    "visits": 400, "days": 10, "checkins": 0, "feedback": 0,
                                    "checkin_client_days": 0, "feedback_client_days": 0,
                                    "counted": "骑手签到 0 人次·日、反馈 0 人次·日（同一手机同一天只计一次）"}
    # one rider check-in more than "near zero" clears it
    fresh_db.execute("INSERT INTO checkin_days VALUES (?, ?, 3)", [a, as_of.isoformat()])
    fresh_db.conn.commit()
    assert not [f for f in ledger.consistency_flags(fresh_db, as_of=as_of) if f["kind"] == "claims"]


def test_a_ledger_that_stops_is_flagged_and_an_organiser_can_quiet_it(fresh_db, people, two):
    a, _ = two
    as_of = ledger.today()
    for n in range(20, 40):
        ledger.save_entry(fresh_db, a, {"date": (as_of - timedelta(days=n)).isoformat(), "v_rider": "3"},
                          people["boss"])
    flags = [f for f in ledger.consistency_flags(fresh_db, as_of=as_of) if f["kind"] == "stopped"]
    assert flags and flags[0]["figures"] == {"last_entry": (as_of - timedelta(days=20)).isoformat(),
                                             "days_since": 20, "entries_before": 20}
    ledger.quiet_flag(fresh_db, a, "stopped", username="boss", as_of=as_of)
    assert not [f for f in ledger.consistency_flags(fresh_db, as_of=as_of) if f["kind"] == "stopped"]


def test_evidence_for_the_selection_counts_the_last_90_days_and_a_kept_ledger(fresh_db, people, two):
    a, b = two
    as_of = ledger.today()
    for n in range(50):
        ledger.save_entry(fresh_db, a, {"date": (as_of - timedelta(days=n)).isoformat(), "v_rider": "2",
                                        "s_water": "1"}, people["boss"])
    ledger.save_entry(fresh_db, b, {"date": (as_of - timedelta(days=100)).isoformat(), "v_rider": "9"},
                      people["boss"])  # outside the 90 days
    ledger.add_meeting(fresh_db, {"date": (as_of - timedelta(days=5)).isoformat(), "kind": "worker",
                                  "station_id": str(a), "attendees": "20", "new_members": "6"}, people["hd"])
    facts = ledger.ledger_evidence(fresh_db, [a, b], as_of=as_of)
    assert facts[a]["entries"] == 50 and facts[a]["visits"] == 100 and facts[a]["kept"] is True
    assert facts[a]["meetings"] == 1 and facts[a]["new_members"] == 6
    assert facts[b]["entries"] == 0 and facts[b]["kept"] is False


def test_a_month_import_job_runs_as_its_uploader_reports_progress_and_fails_cleanly(fresh_db, db_path, people, two,
                                                                                 tmp_path):
    """The web's month import runs as a job (stations.jobs, kind ``ledger``): progress as
    rows checked, then written out of the total; the report kept with the job; an uploader
    who may no longer keep ledgers gets a clear failure and nothing is written."""
    from stations import jobs

    a, b = two
    start = ledger.today() - timedelta(days=3099)
    lines = "".join(f"{sid},{(start + timedelta(days=n)).isoformat()},1,2\n" for sid in (a, b) for n in range(3000))
    calls = []
    report = ledger.import_ledger(fresh_db, write_csv(tmp_path, "站点编号,日期,外卖骑手,饮水\n" + lines),
                                  people["boss"], progress=lambda *args: calls.append(args))
    assert report.ok and report.written == 6000
    assert ("write", 5000, 6000) in calls and calls[-1] == ("write", 6000, 6000)

    def job_for(text, user):
        upload = jobs.save_upload(db_path, lambda path: path.write_text(text, encoding="utf-8"))
        return jobs.create_job(fresh_db, filename="四月.csv", upload=upload, options={}, username=user, kind="ledger")

    bad = job_for(f"站点编号,日期,外卖骑手\n{a},{day(1)},5\n{b},{day(1)},2\n", "hd")  # b: another union's
    assert jobs.run_job(db_path, bad) == "done"
    job = jobs.get_job(fresh_db, bad)
    assert job["kind"] == "ledger" and not job["report"].ok and job["written"] == 0
    assert [(p.row, p.column) for p in job["report"].problems] == [(3, "站点编号")]
    assert not jobs.can_import_valid_rows(job)  # all or nothing: no "import the valid rows"
    fresh_db.execute("UPDATE users SET role = 'planner' WHERE username = 'hd'")
    fresh_db.conn.commit()
    gone = job_for(f"站点编号,日期,外卖骑手\n{a},{day(1)},5\n", "hd")
    assert jobs.run_job(db_path, gone) == "failed"
    assert "无权登记台账" in jobs.get_job(fresh_db, gone)["report"].file_errors[0]
    assert fresh_db.execute("SELECT count(*) FROM ledger_entries WHERE date = ?", [day(1)]).fetchone()[0] == 0


def test_district_bars_label_their_values_with_three_figures_not_a_long_decimal():
    from stations.ledger.charts import bar_chart

    svg = bar_chart([("朝阳区", 474_168), ("平谷区", 33_567), ("延庆区", 812)], title="各区来访人次")
    labels = re.findall(r'<text class="value"[^>]*>([^<]*)</text>', svg)
    assert labels == ["47.4万", "3.36万", "812"]  # was 47.4168万 and 3.3567万
    assert "<title>朝阳区 474,168</title>" in svg  # the exact figure stays in the tooltip


@pytest.mark.parametrize("text, said", [("2026-13-01", "月份应为 1 到 12"), ("2026-00-10", "月份应为 1 到 12"),
                                        ("2026-02-30", "这个月没有这一天"), ("2026/4/31", "这个月没有这一天")])
def test_an_impossible_date_says_what_is_wrong_with_it(text, said):
    from stations.ledger.common import parse_date

    with pytest.raises(LedgerError) as refused:
        parse_date(text)
    assert said in refused.value.message and text in refused.value.message
