"""Opening hours: parsing what people type, display, and open/closed queries."""

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from stations.hours import HoursError, OpeningHours, is_open_now, parse_hours

SH = ZoneInfo("Asia/Shanghai")
# 2026-11-23 is a Monday; 2026-11-29 a Sunday.
MON = datetime(2026, 11, 23)


def at(day, hh, mm=0):
    """Naive Shanghai wall-clock time on weekday ``day`` (0 = Monday) of the test week."""
    return MON + timedelta(days=day, hours=hh, minutes=mm)


def week(**by_day):
    """7-tuple of spans from keyword days mo..su, e.g. week(mo=((480, 1200),))."""
    names = ("mo", "tu", "we", "th", "fr", "sa", "su")
    return tuple(tuple(by_day.get(n, ())) for n in names)


EIGHT_TO_EIGHT = ((480, 1200),)
NINE_TO_FIVE = ((540, 1020),)
WEEKDAYS_8_20 = week(mo=EIGHT_TO_EIGHT, tu=EIGHT_TO_EIGHT, we=EIGHT_TO_EIGHT,
                     th=EIGHT_TO_EIGHT, fr=EIGHT_TO_EIGHT)
WEEKDAYS_8_20_WEEKEND_9_17 = WEEKDAYS_8_20[:5] + (NINE_TO_FIVE, NINE_TO_FIVE)
EVERY_DAY_8_20 = (EIGHT_TO_EIGHT,) * 7
SPLIT = ((480, 720), (840, 1080))


# --- accepted forms ---------------------------------------------------------

@pytest.mark.parametrize("text", [
    "24小时", "24h", "24H", "24/7", "全天", "全天24小时", "00:00-24:00", "7×24小时",
    "24小时开放", "Mo-Su 00:00-24:00", "每天 0:00-24:00", "每天 00:00-00:00",
])
def test_always_open_forms(text):
    h = parse_hours(text)
    assert h.always and h.is_24h
    assert h.to_text() == "24/7"
    assert h.to_zh() == "24小时"


@pytest.mark.parametrize("text, days", [
    ("周一至周五 08:00-20:00; 周六、周日 09:00-17:00", WEEKDAYS_8_20_WEEKEND_9_17),
    ("周一到周五 8:00-20:00，周末 9:00-17:00", WEEKDAYS_8_20_WEEKEND_9_17),
    ("Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00", WEEKDAYS_8_20_WEEKEND_9_17),
    ("星期一至星期五 08:00-20:00；星期六至星期日 09:00-17:00", WEEKDAYS_8_20_WEEKEND_9_17),
    ("礼拜一到礼拜五 8:00-20:00 礼拜六、礼拜天 9:00-17:00", WEEKDAYS_8_20_WEEKEND_9_17),
    ("周一至周日 08:00-20:00", EVERY_DAY_8_20),
    ("每天 08:00-20:00", EVERY_DAY_8_20),
    ("每日 8:00～20:00", EVERY_DAY_8_20),
    ("08:00-20:00", EVERY_DAY_8_20),
    ("０８：００－２０：００", EVERY_DAY_8_20),
    ("每天 8:00—20:00", EVERY_DAY_8_20),
    ("每天 8:00~20:00", EVERY_DAY_8_20),
    ("每天 8:00至20:00", EVERY_DAY_8_20),
    ("每天 8:00到20:00", EVERY_DAY_8_20),
    ("8点-20点", EVERY_DAY_8_20),
    ("8时至20时", EVERY_DAY_8_20),
    ("上午8:00-晚上8:00", EVERY_DAY_8_20),
    ("周一至周五 08:00-20:00", WEEKDAYS_8_20),
    ("周一至五 08:00-20:00", WEEKDAYS_8_20),
    ("周一至周五：08:00-20:00", WEEKDAYS_8_20),
    ("Mo-Fr 08:00-20:00; Sa off", WEEKDAYS_8_20),
    ("周一至周日 08:00-20:00；周六、周日休息", WEEKDAYS_8_20),
    ("每天 08:00-20:00，周六休息，周日闭馆", WEEKDAYS_8_20),
    ("Mo-Su 08:00-20:00; Sa,Su off", WEEKDAYS_8_20),
    ("Mo-Fr 08:00-20:00, Sa closed", WEEKDAYS_8_20),
    ("周一-周五 08:00-12:00,14:00-18:00", (SPLIT,) * 5 + ((), ())),
    ("周一至周五 8:00-12:00，14:00-18:00", (SPLIT,) * 5 + ((), ())),
    ("周一、周三、周五 08:00-20:00", week(mo=EIGHT_TO_EIGHT, we=EIGHT_TO_EIGHT, fr=EIGHT_TO_EIGHT)),
    ("周一、三、五 08:00-20:00", week(mo=EIGHT_TO_EIGHT, we=EIGHT_TO_EIGHT, fr=EIGHT_TO_EIGHT)),
    ("Mo 22:00-06:00", week(mo=((1320, 360),))),
    ("Mo-Su 22:00-06:00", ((((1320, 360),),) * 7)),
    ("每天 22:00-次日06:00", ((((1320, 360),),) * 7)),
    ("每天 8:00-24:00", (((480, 1440),),) * 7),
    ("周六、周日 全天", week(sa=((0, 1440),), su=((0, 1440),))),
    ("周六至周一 9:00-17:00", week(sa=NINE_TO_FIVE, su=NINE_TO_FIVE, mo=NINE_TO_FIVE)),
])
def test_accepted_forms_mean_the_intended_week(text, days):
    assert parse_hours(text).days == days


def test_later_rule_overrides_earlier_one_for_same_day():
    h = parse_hours("Mo-Fr 08:00-20:00; We 10:00-12:00")
    assert h.days[2] == ((600, 720),)
    assert h.days[1] == EIGHT_TO_EIGHT
    assert not h.is_open(at(2, 9))
    assert h.is_open(at(1, 9))


def test_never_open():
    for text in ("off", "不开放", "每天休息"):
        h = parse_hours(text)
        assert h.days == ((),) * 7
        assert not h.is_open(at(2, 12))
        assert h.next_change(at(2, 12)) is None
        assert h.to_text() == "off"
        assert h.to_zh() == "不开放"


# --- canonical text and round trips -------------------------------------------

ROUND_TRIP_FORMS = [
    "24小时", "全天", "08:00-20:00", "周一至周五 08:00-20:00; 周六、周日 09:00-17:00",
    "周一到周五 8:00-20:00，周末 9:00-17:00", "工作日 9:00-18:00", "周一-周五 08:00-12:00,14:00-18:00",
    "周一、周三、周五 08:00-20:00", "Mo-Su 22:00-06:00", "Mo-Fr 08:00-20:00; Sa off",
    "Mo 22:00-06:00", "Mo-Fr 08:00-20:00; We 10:00-12:00", "Mo,Tu,Th-Su 07:30-19:45",
    "每天 08:00-08:00", "周日 00:00-24:00", "周一至周五 24小时", "off",
    "周一 08:00-12:00,13:00-17:00,18:00-02:00", "每天 8:00-24:00",
]


@pytest.mark.parametrize("text", ROUND_TRIP_FORMS)
def test_to_text_and_to_zh_round_trip(text):
    h = parse_hours(text)
    assert parse_hours(h.to_text()) == h
    assert parse_hours(h.to_zh()) == h
    assert parse_hours(h.to_text()).to_text() == h.to_text()


@pytest.mark.parametrize("text, osm, zh", [
    ("周一至周五 08:00-20:00; 周六、周日 09:00-17:00",
     "Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00", "周一至周五 08:00-20:00；周六、周日 09:00-17:00"),
    ("周一-周五 08:00-12:00,14:00-18:00",
     "Mo-Fr 08:00-12:00,14:00-18:00", "周一至周五 08:00-12:00，14:00-18:00；周六、周日休息"),
    ("Mo-Su 22:00-06:00", "Mo-Su 22:00-06:00", "每天 22:00-次日06:00"),
    ("24/7", "24/7", "24小时"),
    ("周日 9:00-17:00；周一至周五 8:00-20:00", "Mo-Fr 08:00-20:00; Su 09:00-17:00",
     "周一至周五 08:00-20:00；周日 09:00-17:00；周六休息"),
    ("周一至周五 24小时", "Mo-Fr 00:00-24:00", "周一至周五 24小时；周六、周日休息"),
])
def test_canonical_texts(text, osm, zh):
    h = parse_hours(text)
    assert h.to_text() == osm
    assert h.to_zh() == zh


def test_overlapping_spans_are_merged():
    assert parse_hours("每天 08:00-12:00, 11:00-14:00, 14:00-15:00").to_text() == "Mo-Su 08:00-15:00"


@pytest.mark.parametrize("text", [t for t in ROUND_TRIP_FORMS if "工作日" not in t])
def test_json_round_trip(text):
    h = parse_hours(text)  # weekly schedules; 工作日 follows China's calendar (test_hours_calendar)
    data = json.loads(json.dumps(h.to_json()))
    assert OpeningHours.from_json(data) == h


def test_constructor_normalises_like_the_parser():
    assert OpeningHours(days=[[[480, 1200]]] * 7) == parse_hours("每天 8:00-20:00")
    assert OpeningHours(always=True) == parse_hours("24小时")
    assert OpeningHours() == parse_hours("off")
    with pytest.raises(HoursError):
        OpeningHours(days=((),) * 6)
    with pytest.raises(HoursError):
        OpeningHours.from_json({"days": [[[480, 2000]]] * 7})


# --- open / closed ---------------------------------------------------------------

def test_overnight_span_is_open_after_midnight_and_closed_after_end():
    h = parse_hours("Mo 22:00-06:00")
    assert h.is_open(at(0, 23, 30))
    assert h.is_open(at(1, 5, 30))
    assert not h.is_open(at(1, 6, 30))
    assert not h.is_open(at(0, 21, 59))
    assert h.is_open(at(0, 22, 0))       # opening minute is open
    assert not h.is_open(at(1, 6, 0))    # closing minute is closed
    assert not h.is_open(at(0, 5, 30))   # Sunday night was not open


def test_overnight_across_the_week_end():
    h = parse_hours("Su 22:00-06:00")
    assert h.is_open(at(7, 3))           # Monday 03:00 of the next week
    assert h.is_open(at(0, 3))           # and of this week (Sunday before)
    assert not h.is_open(at(0, 7))
    assert h.is_open(at(6, 23))


def test_24h_is_open_at_any_time():
    h = parse_hours("24小时")
    for day in range(7):
        for hour in (0, 3, 12, 23):
            assert h.is_open(at(day, hour, 59))
    assert h.next_change(at(3, 12)) is None


def test_closed_days_are_closed():
    h = parse_hours("Mo-Fr 08:00-20:00; Sa off")
    assert h.is_open(at(4, 12))
    assert not h.is_open(at(5, 12))
    assert not h.is_open(at(6, 12))


def test_opening_boundaries_for_day_span():
    h = parse_hours("每天 08:00-20:00")
    assert not h.is_open(at(2, 7, 59))
    assert h.is_open(at(2, 8, 0))
    assert h.is_open(datetime(2026, 11, 25, 19, 59, 59))
    assert not h.is_open(at(2, 20, 0))


def test_aware_datetimes_are_converted_to_shanghai():
    h = parse_hours("周二 09:00-10:00")
    utc = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)   # Tuesday 09:00 in Shanghai
    assert h.is_open(utc)
    assert not h.is_open(datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc))  # 17:00 Shanghai
    assert h.is_open(datetime(2026, 11, 24, 9, 30, tzinfo=SH))
    # 2026-11-23 17:30 UTC is already Tuesday 01:30 in Shanghai.
    night = parse_hours("周二 01:00-02:00")
    assert night.is_open(datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc))


def test_is_open_now():
    assert is_open_now(parse_hours("24/7"))
    assert not is_open_now(parse_hours("off"))
    assert is_open_now("每天 08:00-20:00", at(0, 12))
    assert not is_open_now("每天 08:00-20:00", at(0, 21))


# --- next change --------------------------------------------------------------

def test_next_change_closing_and_opening_same_day():
    h = parse_hours("每天 08:00-20:00")
    assert h.next_change(at(2, 12)) == at(2, 20)
    assert h.next_change(at(2, 6)) == at(2, 8)
    assert h.next_change(at(2, 21)) == at(3, 8)
    assert h.next_change(at(2, 8)) == at(2, 20)   # exactly at opening: next is closing


def test_next_change_across_midnight():
    h = parse_hours("Mo 22:00-06:00")
    assert h.next_change(at(0, 23)) == at(1, 6)
    assert h.next_change(at(1, 1)) == at(1, 6)
    assert h.next_change(at(1, 7)) == at(7, 22)   # next Monday


def test_next_change_across_the_week_end():
    h = parse_hours("Mo-Fr 08:00-20:00")
    assert h.next_change(at(4, 21)) == at(7, 8)   # Friday evening -> Monday
    assert h.next_change(at(6, 12)) == at(7, 8)   # Sunday -> Monday
    su = parse_hours("Su 22:00-06:00")
    assert su.next_change(at(6, 23)) == at(7, 6)
    assert su.next_change(at(0, 3)) == at(0, 6)


def test_next_change_merges_back_to_back_days():
    h = parse_hours("Mo-Su 20:00-08:00")
    assert h.next_change(at(2, 23)) == at(3, 8)
    # Always-open written day by day has no change at all.
    assert parse_hours("Mo-Su 00:00-24:00,22:00-06:00").next_change(at(1, 3)) is None


def test_next_change_keeps_aware_results_aware():
    h = parse_hours("每天 08:00-20:00")
    utc = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)   # 09:00 Shanghai
    change = h.next_change(utc)
    assert change == datetime(2026, 11, 24, 20, 0, tzinfo=SH)
    assert change.tzinfo is not None
    assert change == datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


# --- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("周八 08:00-20:00", "周八"),
    ("08:00-25:00", "25:00"),
    ("25:00-26:00", "25:00"),
    ("08:70-20:00", "08:70"),
    ("０８：７０－２０：００", "０８：７０"),
    ("24:30-08:00", "24:30"),
    ("周一至周五", "周一至周五"),
    ("周一至周五 08:00-20:00；周六", "周六"),
    ("周一至周五 08:00", "08:00"),
    ("周一至周五 08:00-", "08:00-"),
    ("08:00-20:00 xyz", "xyz"),
    ("Mo-Fr 08:00-20:00; PH off", "PH"),
    ("08:00-20:00（节假日另行通知）", "（节假日另行通知）"),
    ("周一至 08:00-20:00", "周一至"),
    ("24:00-08:00", "24:00"),
    ("8-20", "8-20"),
    ("; 08:00-20:00", ";"),
    ("周日闭馆", "周日闭馆"),
])
def test_bad_input_names_the_fragment(text, fragment):
    with pytest.raises(HoursError) as info:
        parse_hours(text)
    message = str(info.value)
    assert message.startswith("无法识别的开放时间")
    assert f"“{fragment}”" in message
    assert info.value.fragment == fragment
    assert isinstance(info.value, ValueError)


def test_unknown_day_message_matches_the_documented_form():
    with pytest.raises(HoursError) as info:
        parse_hours("周八 08:00-20:00")
    assert str(info.value).startswith("无法识别的开放时间 “周八 08:00-20:00”：不认识“周八”")
    assert "周一至周五 08:00-20:00" in str(info.value)   # says what was expected


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_empty_text_is_an_error(text):
    with pytest.raises(HoursError, match="为空"):
        parse_hours(text)


def test_saturday_and_sunday_written_together():
    assert parse_hours("周一至周五 8:00-18:00 周六日休息").to_text() == "Mo-Fr 08:00-18:00"
    assert parse_hours("周六日 9:00-12:00").to_text() == "Sa,Su 09:00-12:00"
