"""Opening hours against China's calendar (issue 10, point 14): 工作日 with 调休 and
statutory holidays, organisers' holiday remarks, seasonal hours."""

from datetime import datetime

import pytest

from stations.hours.now import open_state
from stations.hours import HoursError, OpeningHours, calendar_years, parse_hours
from stations.storage import TZ


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def test_the_calendar_covers_2026():
    first, last = calendar_years()
    assert first <= 2025 and last >= 2026


@pytest.mark.parametrize("moment, is_open", [
    ("2026-10-12T10:00", True),   # an ordinary Monday
    ("2026-10-01T10:00", False),  # National Day, a Thursday: a statutory holiday
    ("2026-10-10T10:00", True),   # Saturday, a make-up working day (调休)
    ("2026-10-11T10:00", False),  # an ordinary Sunday
    ("2026-10-12T21:00", False),  # after hours
])
def test_workdays_are_chinas_working_days(moment, is_open):
    assert parse_hours("工作日 8:00-20:00").is_open(at(moment)) is is_open


def test_weekend_hours_stay_and_a_make_up_saturday_keeps_workday_hours():
    hours = parse_hours("工作日 8:00-20:00，周末 9:00-17:00")
    assert hours.is_open(at("2026-10-10T08:30"))      # 调休 Saturday: opens at 8
    assert not hours.is_open(at("2026-10-17T08:30"))  # an ordinary Saturday: at 9
    assert not hours.is_open(at("2026-10-01T10:00"))  # holiday Thursday: no workday hours
    assert hours.next_change(at("2026-10-09T21:00")) == at("2026-10-10T08:00")


@pytest.mark.parametrize("text, holiday_open", [
    ("每天 8:00-18:00（法定节假日除外）", False),
    ("08:00-18:00(法定节假日除外)", False),
    ("每天 8:00-18:00，节假日休息", False),
    ("节假日休息；每天 8:00-18:00", False),
    ("周一至周日 8:00-18:00（节假日正常开放）", True),
])
def test_holiday_remarks_organisers_write(text, holiday_open):
    hours = parse_hours(text)
    assert hours.is_open(at("2026-10-01T10:00")) is holiday_open   # National Day
    assert hours.is_open(at("2026-10-12T10:00")) is True             # an ordinary Monday
    assert hours.is_open(at("2026-10-17T10:00")) is True             # an ordinary Saturday
    # Riders see the remark as it was written.
    remark = "（法定节假日除外）" if "除外" in text else ("节假日休息" if "休息" in text else "（节假日正常开放）")
    assert remark.strip("()") in parse_hours(text).to_zh().replace("(", "（").replace(")", "）")


@pytest.mark.parametrize("moment, is_open", [
    ("2026-10-01T10:00", False),  # National Day, a Thursday
    ("2026-10-10T10:00", True),   # Saturday, a make-up working day (调休): weekday hours
    ("2026-10-10T17:30", False),  # … and only those
    ("2026-10-11T10:00", False),  # an ordinary Sunday
    ("2026-10-17T10:00", False),  # an ordinary Saturday
    ("2026-10-12T10:00", True),   # an ordinary Monday
])
def test_weekdays_except_statutory_holidays_follow_the_official_calendar(moment, is_open):
    hours = parse_hours("周一至周五 9:00-17:00（法定节假日除外）")
    assert hours.is_open(at(moment)) is is_open
    assert hours.next_change(at("2026-10-09T18:00")) == at("2026-10-10T09:00")


def test_a_make_up_day_keeps_its_own_hours_when_the_weekdays_differ():
    hours = parse_hours("周一至周四 9:00-17:00，周五 9:00-12:00，周六 10:00-11:00（法定节假日除外）")
    assert hours.is_open(at("2026-10-10T10:30")) and not hours.is_open(at("2026-10-10T12:00"))


def test_normal_holiday_opening_with_workdays_ignores_the_calendar():
    hours = parse_hours("周一至周五 9:00-17:00（节假日正常开放）")
    assert hours.is_open(at("2026-10-01T10:00"))  # Thursday, National Day: open as usual


@pytest.mark.parametrize("text", [
    "工作日 8:00-20:00", "每天 08:00-20:00（法定节假日除外）", "每天 8:00-18:00，节假日休息",
    "夏季（5-9月）8:00-19:00，冬季（10-4月）8:30-18:00", "工作日 8:00-20:00，周末 9:00-17:00",
    "工作日 08:00-20:00；周三 10:00-12:00（节假日正常开放）",
])
def test_calendar_texts_round_trip(text):
    hours = parse_hours(text)
    assert parse_hours(hours.to_zh()) == hours and parse_hours(hours.to_text()) == hours
    assert not isinstance(hours, OpeningHours)


def test_seasonal_hours_with_their_months():
    hours = parse_hours("夏季（5-9月）8:00-19:00，冬季（10-4月）8:30-18:00")
    assert hours.is_open(at("2026-07-01T08:10")) and not hours.is_open(at("2026-12-01T08:10"))
    assert hours.is_open(at("2026-12-01T17:30")) and not hours.is_open(at("2026-12-01T18:30"))
    assert hours.is_open(at("2026-07-01T18:30"))
    assert hours.to_zh() == "夏季（5-9月）每天 08:00-19:00；冬季（10-4月）每天 08:30-18:00"
    # Seasons do not need the holiday calendar: any year answers.
    assert hours.is_open(at("2030-07-01T08:10"))


@pytest.mark.parametrize("text, fragment, words", [
    ("夏季 8:00-19:00，冬季 8:30-18:00", "夏季", "没有写明是哪几个月"),
    ("夏季（5-9月）8:00-19:00", "夏季（5-9月）8:00-19:00", "没有写 1月、2月、3月、4月、10月、11月、12月"),
    ("夏季（5-9月）8:00-19:00，冬季（9-4月）8:30-18:00", "冬季（9-4月）", "9 月同时属于"),
])
def test_seasons_without_months_are_refused_clearly(text, fragment, words):
    with pytest.raises(HoursError) as info:
        parse_hours(text)
    assert words in str(info.value) and info.value.fragment == fragment


def test_beyond_the_calendar_the_page_says_so_instead_of_guessing():
    station = {"status": "active", "hours": "工作日 8:00-20:00（法定节假日除外）"}
    first, last = calendar_years()
    beyond = datetime(last + 1, 3, 1, 10, 0, tzinfo=TZ)
    state = open_state(station, beyond)
    assert state["open"] is None and f"{last + 1} 年节假日安排尚未收录" in state["label"]
    # Hours that do not depend on the calendar still answer in any year.
    assert open_state({"status": "active", "hours": "每天 8:00-20:00"}, beyond)["open"] is True


def test_a_holiday_on_the_rider_page(client, fresh_db):
    from tests.conftest import make_station

    sid = make_station(fresh_db, name="节假日站", hours="每天 8:00-18:00（法定节假日除外）")
    page = client.get("/nearby?lat=39.9087&lon=116.3975&at=2026-10-01T10:00").get_data(as_text=True)
    assert f'data-station-id="{sid}"' in page and "现在关门（1）" in page
    detail = client.get(f"/stations/{sid}").get_data(as_text=True)
    assert "（法定节假日除外）" in detail
