"""Datum conversions: known offsets and round trips under a metre across China."""

import math

import numpy as np
import pytest

from geodata.datum import (
    DatumError,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_wgs84,
    parse_datum,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def metres(a, b):
    """Haversine distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def china_points(n=3000, seed=7):
    rng = np.random.default_rng(seed)
    return list(zip(rng.uniform(73.7, 135.0, n), rng.uniform(18.2, 53.5, n)))


def test_tiananmen_gcj02_offset_is_the_known_one():
    # Tiananmen: WGS-84 (116.39747, 39.90882); Amap shows it at about (116.40387, 39.91023).
    glon, glat = wgs84_to_gcj02(116.39747, 39.90882)
    assert abs(glon - 116.40387) < 0.0002 and abs(glat - 39.91023) < 0.0002
    assert 300 < metres((116.39747, 39.90882), (glon, glat)) < 700


def test_wgs_gcj_round_trip_under_a_metre_across_china():
    worst = max(metres(p, gcj02_to_wgs84(*wgs84_to_gcj02(*p))) for p in china_points())
    assert worst < 1.0, worst


def test_wgs_bd09_round_trip_under_a_metre_across_china():
    worst = max(metres(p, bd09_to_wgs84(*wgs84_to_bd09(*p))) for p in china_points(seed=8))
    assert worst < 1.0, worst


def test_inverse_from_the_other_side():
    # A point read off Amap converts to WGS-84 and back to the same Amap point.
    for glon, glat in china_points(500, seed=9):
        back = wgs84_to_gcj02(*gcj02_to_wgs84(glon, glat))
        assert metres((glon, glat), back) < 1.0


def test_bd09_is_further_shifted_than_gcj02_in_beijing():
    p = (116.39747, 39.90882)
    assert metres(p, wgs84_to_bd09(*p)) > metres(p, wgs84_to_gcj02(*p)) + 300


def test_outside_china_gcj02_is_wgs84():
    for p in [(139.69, 35.69), (-0.1276, 51.5072), (151.2, -33.87)]:
        assert wgs84_to_gcj02(*p) == p
        assert gcj02_to_wgs84(*p) == p


@pytest.mark.parametrize("name,expected", [("WGS84", "wgs84"), ("gcj-02", "gcj02"),
                                           ("BD09", "bd09"), (None, "wgs84"), ("", "wgs84")])
def test_datum_names(name, expected):
    assert parse_datum(name) == expected


def test_unknown_datum_is_a_clear_error():
    with pytest.raises(DatumError, match="应为 wgs84（GPS）、gcj02（高德、腾讯）或 bd09（百度）"):
        parse_datum("mercator")


def test_to_and_from_are_inverse():
    p = (116.3, 39.95)
    for datum in ("wgs84", "gcj02", "bd09"):
        assert metres(p, to_wgs84(*from_wgs84(*p, datum), datum)) < 1.0
