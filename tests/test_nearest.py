"""Nearest search: the same answers as a brute-force scan, filters, ties, edges."""

from datetime import datetime

import numpy as np
import pytest

from stations.registry.demo import generate_stations
from stations.riders.nearest import NearestIndex, brute_force_nearest, haversine_m
from stations.storage import TZ


@pytest.fixture(scope="module")
def china():
    rows = generate_stations(3000, seed=11, region="china")
    for i, row in enumerate(rows, start=1):
        row["id"] = i
    return rows


@pytest.fixture(scope="module")
def index(china):
    return NearestIndex(china)


def same(index, rows, lon, lat, k=5, **kw):
    got = [(h.station_id, round(h.distance_m, 3)) for h in index.query(lon, lat, k, **kw)]
    want = [(s["id"], d) for s, d in brute_force_nearest(rows, lon, lat, k, **kw)]
    assert got == want, (lon, lat, kw)
    return got


def test_random_points_across_china_and_beyond(index, china):
    rng = np.random.default_rng(3)
    # inside China, at its edges (Mohe, Hainan, Kashgar, Fuyuan) and well outside it
    points = list(zip(rng.uniform(73, 135, 150), rng.uniform(18, 53, 150)))
    points += [(122.5, 53.4), (109.5, 18.2), (75.98, 39.47), (134.3, 48.35),
               (139.69, 35.69), (-74.0, 40.7), (0.0, 0.0), (179.9, -89.9)]
    for lon, lat in points:
        same(index, china, lon, lat)


def test_filters_match_brute_force(index, china):
    rng = np.random.default_rng(4)
    at = datetime(2026, 11, 28, 23, 15, tzinfo=TZ)  # a Saturday night: most stations shut
    for lon, lat in zip(rng.uniform(100, 125, 40), rng.uniform(22, 42, 40)):
        got = same(index, china, lon, lat, 5, open_now=True, at=at)
        assert len(got) == 5
        same(index, china, lon, lat, 3, facilities=["microwave", "battery_swap"])
        same(index, china, lon, lat, 4, only_24h=True)
        same(index, china, lon, lat, 6, status=None)
        same(index, china, lon, lat, 5, radius_m=30_000)


def test_open_now_answer_is_really_open(index, china):
    at = datetime(2026, 11, 24, 7, 30, tzinfo=TZ)  # Tuesday 07:30
    for hit in index.query(116.4, 39.9, 10, open_now=True, at=at):
        assert hit.open_now is True
        assert hit.station["hours"] in ("24/7", "Mo-Su 07:00-22:00", "Mo-Su 06:00-22:00")


def test_radius_that_excludes_everything_is_an_empty_list(index):
    assert index.query(116.4, 39.9, 5, radius_m=1) == []
    assert index.query(-74.0, 40.7, 5, radius_m=50_000) == []


def test_ties_are_broken_by_id():
    rows = [{"id": i, "lon": 116.4, "lat": 39.9, "status": "active", "facilities": [],
             "hours": "24/7", "name": str(i)} for i in (7, 3, 5)]
    rows.append({"id": 1, "lon": 116.5, "lat": 39.9, "status": "active", "facilities": [],
                 "hours": None, "name": "far"})
    index = NearestIndex(rows)
    assert [h.station_id for h in index.query(116.41, 39.9, 3)] == [3, 5, 7]
    assert [h.station_id for h in index.query(116.41, 39.9, 4)] == [3, 5, 7, 1]
    assert index.query(116.5, 39.9, 1)[0].open_now is None  # hours unknown


def test_more_wanted_than_exist(index, china):
    assert len(index.query(116.4, 39.9, 50, radius_m=5000)) <= 50
    small = NearestIndex(china[:3])
    assert len(small.query(116.4, 39.9, 10)) <= 3
    assert NearestIndex([]).query(116.4, 39.9, 5) == []


def test_walk_minutes_and_distance_are_honest(index):
    hit = index.query(116.4, 39.9, 1)[0]
    d = float(haversine_m(116.4, 39.9, hit.station["lon"], hit.station["lat"]))
    assert hit.distance_m == pytest.approx(d)
    # 5 km/h on streets 1.3 × the straight line
    assert hit.walk_minutes == max(1, int(np.ceil(d * 1.3 / (5000 / 60))))


def test_haversine_known_distance():
    # Tiananmen to the Summer Palace is about 15.3 km.
    assert haversine_m(116.3975, 39.9087, 116.2755, 39.9999) == pytest.approx(14_600, rel=0.05)


def test_sub_millimetre_near_ties_rank_like_brute_force():
    # Two stations whose distances differ by less than the millimetre the answers are
    # ranked to: the lower id must win, with or without filters.
    from scipy.optimize import brentq
    lon0, lat0 = 116.4, 39.9
    east = (lon0 + 0.01, lat0)
    target = float(haversine_m(lon0, lat0, *east)) + 0.0003
    dlat = brentq(lambda d: float(haversine_m(lon0, lat0, lon0, lat0 + d)) - target, 0.001, 0.02)
    rows = [{"id": 9, "lon": east[0], "lat": east[1], "status": "active", "facilities": ["water"],
             "hours": "24/7", "name": "east"},
            {"id": 2, "lon": lon0, "lat": lat0 + dlat, "status": "active", "facilities": ["water"],
             "hours": "24/7", "name": "north"}]
    index = NearestIndex(rows)
    for kw in ({}, {"facilities": ["water"]}):
        got = [h.station_id for h in index.query(lon0, lat0, 1, **kw)]
        want = [s["id"] for s, _ in brute_force_nearest(rows, lon0, lat0, 1, **kw)]
        assert got == want


def test_open_state_of_every_hit_is_the_timetables_own_answer():
    """The index answers open-now from week minutes (once per minute and timetable):
    it must agree with the timetable itself at every kind of moment — overnight spans,
    the Sunday-to-Monday week end, the first and last minute of a span, aware times in
    another zone, and calendar-dependent hours (statutory holidays, 调休)."""
    from datetime import timedelta, timezone

    from stations.hours import parse_hours

    texts = ["Mo-Fr 08:00-20:00", "Su 22:00-06:00", "Mo-Su 07:00-22:00", "24/7",
             "Sa,Su 00:00-02:30; Mo 23:59-00:01", "周一至周五 09:00-17:00（法定节假日除外）",
             "Tu 12:00-12:01", "Mo-Sa 21:00-03:00"]
    rows = [{"id": i + 1, "lon": 116.4 + i * 1e-3, "lat": 39.9, "status": "active",
             "facilities": [], "hours": text} for i, text in enumerate(texts)]
    index = NearestIndex(rows)
    monday = datetime(2026, 9, 28)  # the week of the National Day holiday and a 调休 Saturday
    moments = [monday + timedelta(minutes=m) for m in range(0, 14 * 1440, 29)]
    moments += [monday + timedelta(days=6, hours=23, minutes=59), monday + timedelta(days=7),
                monday + timedelta(days=1, hours=12), monday + timedelta(days=1, hours=12, minutes=1)]
    for naive in moments:
        for at in (naive.replace(tzinfo=TZ), (naive.replace(tzinfo=TZ)).astimezone(timezone.utc), naive):
            got = {h.station_id: h.open_now for h in index.query(116.4, 39.9, len(rows), at=at)}
            want = {row["id"]: parse_hours(row["hours"]).is_open(at) for row in rows}
            assert got == want, at
