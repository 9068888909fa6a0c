"""Coverage figures on layouts whose answer is known, checked against geopandas buffers.

The independent answer: circles buffered in UTM zone 50N (EPSG:32650), overlaid on
the region with shapely, areas measured there.  Ours: a grid in the area's own
Albers projection.  They agree to within the grid's discretisation.
"""

from __future__ import annotations

import math
from datetime import datetime

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from stations.coverage.figures import DemandPoints, StationSet, evaluate
from stations.coverage.grid import Area, Circle, CoverageError, area_for
from stations.storage import TZ
from tests.conftest import make_station

UTM = "EPSG:32650"
TO_UTM = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
FROM_UTM = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
CENTRE = TO_UTM.transform(116.40, 39.90)
CELL = 25.0
WALK = Circle(15, "walk")  # 15 min × 5 km/h ÷ 1.3 = 961.5 m


def square(cx, cy, side):
    """A square in UTM metres (densified so it stays square after reprojection), as WGS-84."""
    h = side / 2
    ring = shapely.segmentize(shapely.box(cx - h, cy - h, cx + h, cy + h), 50)
    return shapely.transform(ring, lambda xy: np.column_stack(FROM_UTM.transform(xy[:, 0], xy[:, 1])))


def lonlat(x, y):
    return FROM_UTM.transform(x, y)


def buffers_answer(region_wgs, points_utm, radius):
    """Shares of the region covered by >= 1 and >= 2 circles, by geopandas in UTM."""
    region = gpd.GeoSeries([region_wgs], crs="EPSG:4326").to_crs(UTM).iloc[0]
    circles = gpd.GeoSeries([shapely.Point(p) for p in points_utm], crs=UTM).buffer(radius, 256)
    once = shapely.union_all(circles.values).intersection(region)
    pairs = [a.intersection(b) for i, a in enumerate(circles) for b in list(circles)[i + 1:]]
    twice = shapely.union_all(pairs).intersection(region) if pairs else shapely.Polygon()
    return once.area / region.area, twice.area / region.area, region.area / 1e6


def run(regions: dict, points_utm, circle=WALK, demand=None, cell=CELL):
    area = Area(list(regions), list(regions.values()), cell)
    stations = StationSet.from_points([lonlat(*p) for p in points_utm])
    return evaluate(area, stations, circle, demand)


def test_radius_is_minutes_times_speed_over_detour():
    assert WALK.radius_m == pytest.approx(15 / 60 * 5000 / 1.3)
    assert Circle(10, "ebike", detour=1.0).radius_m == pytest.approx(2500)
    assert Circle(15, "walk", speed_kmh=4).radius_m == pytest.approx(15 / 60 * 4000 / 1.3)
    with pytest.raises(CoverageError) as err:
        Circle(15, "car")
    assert err.value.parameter == "mode"
    with pytest.raises(CoverageError):
        Circle(0, "walk")


def test_one_station_in_a_square():
    region = square(*CENTRE, 4000)
    cov = run({"甲区": region}, [CENTRE])
    overall = cov.figures()["overall"]
    once, twice, km2 = buffers_answer(region, [CENTRE], WALK.radius_m)
    assert once == pytest.approx(math.pi * WALK.radius_m ** 2 / 16e6, rel=1e-3)
    assert overall["covered_share"] == pytest.approx(once, abs=0.003)
    assert overall["double_covered_share"] == 0
    assert overall["demand_covered_share"] == overall["covered_share"]  # uniform demand
    assert overall["stations"] == 1
    assert overall["area_km2"] == pytest.approx(km2, rel=1e-3)
    assert overall["stations_per_km2"] == pytest.approx(1 / km2, rel=1e-3)
    # mean distance from a 4 km square to its centre: 0.3826 × side (closed form)
    mean = 4000 * (math.sqrt(2) + math.log(1 + math.sqrt(2))) / 6
    assert overall["mean_distance_m"] == pytest.approx(mean, abs=CELL)
    # p90 of the distance: sampled independently in UTM
    g = np.linspace(-2000 + 5, 2000 - 5, 400)
    xx, yy = np.meshgrid(g, g)
    assert overall["p90_distance_m"] == pytest.approx(np.percentile(np.hypot(xx, yy), 90), abs=CELL)


def test_two_overlapping_circles_give_single_and_double_cover():
    region = square(*CENTRE, 5000)
    cx, cy = CENTRE
    points = [(cx - 500, cy), (cx + 500, cy)]
    cov = run({"甲区": region}, points)
    overall = cov.figures()["overall"]
    once, twice, _ = buffers_answer(region, points, WALK.radius_m)
    assert twice > 0.03  # the layout really overlaps
    assert overall["covered_share"] == pytest.approx(once, abs=0.003)
    assert overall["double_covered_share"] == pytest.approx(twice, abs=0.003)


def test_a_station_just_outside_covers_part_of_the_region():
    region = square(*CENTRE, 4000)
    cx, cy = CENTRE
    outside = [(cx + 2000 + 400, cy)]  # 400 m beyond the east edge
    cov = run({"甲区": region}, outside)
    overall = cov.figures()["overall"]
    once, _, _ = buffers_answer(region, outside, WALK.radius_m)
    assert 0.01 < once < 0.1
    assert overall["covered_share"] == pytest.approx(once, abs=0.002)
    assert overall["stations"] == 0  # it covers, but it does not stand in the region


def test_per_district_figures_count_cover_from_the_neighbour():
    cx, cy = CENTRE
    west, east = square(cx - 2000, cy, 4000), square(cx + 2000, cy, 4000)
    points = [(cx - 300, cy)]  # in the west district, 300 m from the shared edge
    cov = run({"西区": west, "东区": east}, points)
    figures = cov.figures()
    by_name = {d["district"]: d for d in figures["districts"]}
    for name, region in (("西区", west), ("东区", east)):
        once, _, _ = buffers_answer(region, points, WALK.radius_m)
        assert by_name[name]["covered_share"] == pytest.approx(once, abs=0.003)
    assert by_name["西区"]["stations"] == 1 and by_name["东区"]["stations"] == 0
    assert by_name["东区"]["covered_share"] > 0.02
    once, _, _ = buffers_answer(shapely.union_all([west, east]), points, WALK.radius_m)
    assert figures["overall"]["covered_share"] == pytest.approx(once, abs=0.003)


def test_demand_weights_decide_the_demand_shares():
    region = square(*CENTRE, 6000)
    cx, cy = CENTRE
    inside = [lonlat(cx + dx, cy) for dx in (0, 300, 900)]       # within 961 m
    outside = [lonlat(cx + 2500, cy + 2500), lonlat(cx - 1100, cy)]
    pts = np.array(inside + outside)
    demand = DemandPoints(pts[:, 0], pts[:, 1], [1, 2, 3, 10, 4], "订单")
    cov = run({"甲区": region}, [CENTRE], demand=demand)
    overall = cov.figures()["overall"]
    assert overall["demand_covered_share"] == pytest.approx(6 / 20)
    assert overall["demand_double_covered_share"] == 0
    assert overall["demand_total"] == pytest.approx(20)
    assert overall["covered_share"] < 0.1  # area still counted on the grid
    # weighted mean distance of the points, in metres
    expect = (0 * 1 + 300 * 2 + 900 * 3 + math.hypot(2500, 2500) * 10 + 1100 * 4) / 20
    assert overall["mean_distance_m"] == pytest.approx(expect, rel=2e-3)


def test_criticality_ranks_the_station_that_alone_covers_demand():
    region = square(*CENTRE, 6000)
    cx, cy = CENTRE
    points = [(cx - 2000, cy), (cx + 2000, cy), (cx + 2000, cy)]  # 2 and 3 stand together
    cov = run({"甲区": region}, points)
    ranking = cov.criticality()
    assert [r["station_id"] for r in ranking] == [1]
    disc = math.pi * WALK.radius_m ** 2 / 1e6
    assert ranking[0]["demand_only"] == pytest.approx(disc, rel=0.01)
    # closing station 1 loses exactly that cover
    after = evaluate(cov.area, cov.stations.without([1]), WALK).figures()["overall"]
    before = cov.figures()["overall"]
    lost = (before["covered_share"] - after["covered_share"]) * before["area_km2"]
    assert lost == pytest.approx(disc, rel=0.01)


def test_stamping_and_tree_counts_agree_exactly(monkeypatch):
    from stations.coverage import figures

    rng = np.random.default_rng(3)
    region = square(*CENTRE, 8000)
    points = [(CENTRE[0] + x, CENTRE[1] + y) for x, y in rng.uniform(-5000, 5000, (300, 2))]
    a = run({"甲区": region}, points, cell=50)
    monkeypatch.setattr(figures, "_STAMP_LIMIT", 0)  # force the KD-tree path
    b = run({"甲区": region}, points, cell=50)
    assert np.array_equal(np.minimum(a.cells.count, 2), b.cells.count)
    assert np.array_equal(a.cells.single, b.cells.single)


def test_beijing_grid_matches_district_areas_and_bounds_the_grid():
    area = area_for("beijing", ["东城区", "西城区"], 100)
    counted = np.bincount(area.district, minlength=2) * 0.01
    assert counted == pytest.approx(area.area_km2, rel=0.01)
    assert area.area_km2[0] == pytest.approx(42, abs=1)  # 东城区 is about 42 km²
    with pytest.raises(CoverageError) as err:
        area_for("beijing", None, 20)
    assert err.value.parameter == "cell_m" and "上限" in err.value.message
    with pytest.raises(CoverageError) as err:
        area_for("beijing", ["火星区"], 100)
    assert err.value.parameter == "district" and "火星区" in err.value.message


def test_only_stations_open_at_a_time_count(fresh_db):
    from stations.coverage.planner import station_set

    make_station(fresh_db, name="白天站", hours="Mo-Su 08:00-18:00")
    make_station(fresh_db, name="全天站", hours="24/7", lon=116.41)
    make_station(fresh_db, name="已关闭", status="closed", lon=116.42)
    assert len(station_set(fresh_db)) == 2
    night = datetime(2026, 11, 24, 23, 0, tzinfo=TZ)
    assert station_set(fresh_db, at=night).names == ["全天站"]
    assert station_set(fresh_db, only_24h=True).names == ["全天站"]
