"""Reading what people type: coordinates, facilities, statuses, whole records."""

import pytest

from stations.registry.coords import CoordinateError, parse_coordinate, parse_lonlat_pair
from stations.registry.records import clean_station, parse_facilities, parse_status


@pytest.mark.parametrize("text,expected", [
    ("116.4", 116.4), ("１１６．４", 116.4), (" 39.9087 ", 39.9087), ("116.4°", 116.4),
    ("116°23'45.6\"", 116 + 23 / 60 + 45.6 / 3600), ("116度23分45.6秒", 116 + 23 / 60 + 45.6 / 3600),
    ("东经116.4", 116.4), ("39.9N", 39.9), ("116°30′", 116.5), (116.4, 116.4), ("－12.5", -12.5),
])
def test_coordinates_people_type(text, expected):
    assert parse_coordinate(text) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("text", ["abc", "116,4.5", "116°75'", "", "1e999", "11 6"])
def test_unreadable_coordinates_are_rejected(text):
    with pytest.raises(CoordinateError):
        parse_coordinate(text)


def test_lonlat_pair_in_amap_order():
    assert parse_lonlat_pair("116.397,39.909") == (116.397, 39.909)
    with pytest.raises(CoordinateError):
        parse_lonlat_pair("116.397")


def test_facilities_in_chinese_and_english():
    codes, unknown = parse_facilities("饮水机、微波炉，充电;厕所 wifi 火箭发射台")
    assert codes == ["water", "microwave", "charging", "toilet", "wifi"]
    assert unknown == ["火箭发射台"]
    codes, _ = parse_facilities("充电充气工具")
    assert codes == ["charging", "tyre_inflation"]


def test_status_words():
    assert parse_status("正常") == "active"
    assert parse_status("暂停开放") == "temporarily_closed"
    assert parse_status("已关闭") == "closed"
    assert parse_status("") == "active"
    with pytest.raises(ValueError, match="不认识的状态"):
        parse_status("火星")


def test_clean_station_collects_every_problem():
    result = clean_station({"name": "", "lon": "abc", "lat": "39.9", "hours": "周八 08:00-20:00",
                            "status": "火星"})
    fields = {p.field for p in result.errors}
    assert {"name", "lon", "hours", "status"} <= fields
    messages = " ".join(p.message for p in result.errors)
    assert "缺少站点名称" in messages and "周八" in messages


def test_latitude_out_of_range_suggests_a_swap():
    result = clean_station({"name": "x", "lon": "39.9", "lat": "116.4"})
    assert any("填反" in p.message for p in result.errors)


def test_gcj02_input_is_stored_as_wgs84():
    result = clean_station({"name": "x", "lon": "116.40387", "lat": "39.91023"}, "gcj02")
    assert result.ok
    assert result.record["lon"] == pytest.approx(116.39747, abs=2e-4)
    assert result.record["lat"] == pytest.approx(39.90882, abs=2e-4)


def test_hours_are_normalised():
    result = clean_station({"name": "x", "lon": 116.4, "lat": 39.9,
                            "hours": "周一至周五 8:00-20:00，周末 9:00～17:00"})
    assert result.record["hours"] == "Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00"
