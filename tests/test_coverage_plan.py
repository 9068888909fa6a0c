"""Gaps, suggested sites (greedy against the exact spopt MCLP) and demand layers."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from stations.coverage import demand as demand_layers
from stations.coverage.figures import StationSet, evaluate
from stations.coverage.gaps import gap_hexagons, gaps_geojson
from stations.coverage.grid import Area, Circle, CoverageError
from stations.coverage.suggest import greedy_mclp, suggest_sites

FROM_UTM = Transformer.from_crs("EPSG:32650", "EPSG:4326", always_xy=True)
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
CX, CY = TO_UTM.transform(116.40, 39.90)


def square(side):
    h = side / 2
    ring = shapely.segmentize(shapely.box(CX - h, CY - h, CX + h, CY + h), 50)
    return shapely.transform(ring, lambda xy: np.column_stack(FROM_UTM.transform(xy[:, 0], xy[:, 1])))


def exact_mclp(cost, weights, radius, p):
    """The optimum covered demand from PySAL spopt's MCLP, solved by the CBC it ships."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spopt's dependencies warn on import (not our code)
        import pulp
        from spopt.locate import MCLP

        model = MCLP.from_cost_matrix(cost, weights, service_radius=radius, p_facilities=p)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    covered = set()
    for clients in model.fac2cli:
        covered.update(int(c) for c in clients)
    return float(weights[sorted(covered)].sum())


@pytest.mark.parametrize("seed", range(6))
def test_greedy_reaches_95_percent_of_the_spopt_optimum(seed):
    rng = np.random.default_rng(seed)
    sites = rng.uniform(0, 10_000, (120, 2))
    cands = rng.uniform(0, 10_000, (40, 2))
    weights = rng.integers(1, 20, len(sites)).astype(float)
    cost = np.hypot(sites[:, None, 0] - cands[None, :, 0], sites[:, None, 1] - cands[None, :, 1])
    radius, p = 1500.0, 5
    site_of, cand_of = np.nonzero(cost <= radius)
    chosen, gains = greedy_mclp(weights, np.ones(len(sites), int), site_of, cand_of, len(cands), p)
    covered = (cost[:, chosen] <= radius).any(axis=1)
    greedy = float(weights[covered].sum())
    assert greedy == pytest.approx(sum(gains))  # the incremental gains add up
    optimum = exact_mclp(cost, weights, radius, p)
    assert greedy <= optimum + 1e-9
    assert greedy >= 0.95 * optimum, (greedy, optimum)


def test_double_mode_counts_demand_only_when_two_sites_reach_it():
    weights = np.array([5.0, 1.0, 1.0])
    need = np.array([2, 1, 1])  # site 0 is uncovered, 1 and 2 are singly covered
    # candidate 0 covers site 0; candidate 1 covers sites 0 and 1; candidate 2 covers site 2
    site_of = np.array([0, 0, 1, 2])
    cand_of = np.array([0, 1, 1, 2])
    chosen, gains = greedy_mclp(weights, need, site_of, cand_of, 3, 3)
    assert chosen[0] == 1 and gains[0] == 1.0      # only site 1 reaches two at first
    assert chosen[1] == 0 and gains[1] == 5.0      # then site 0 needs just one more
    assert gains[2] == 1.0


def coverage_with_gap():
    region = square(6000)
    area = Area(["甲区"], [region], 50)
    station = FROM_UTM.transform(CX - 2000, CY - 2000)
    return evaluate(area, StationSet.from_points([station]), Circle(15, "walk"))


def test_suggestions_cover_the_gap_and_report_what_they_add():
    cov = coverage_with_gap()
    before = cov.figures()["overall"]["covered_share"]
    answer = suggest_sites(cov, 3, spacing_m=500)
    assert len(answer["sites"]) == 3
    assert all(row["district"] == "甲区" for row in answer["sites"])
    after = evaluate(cov.area, cov.stations.plus([r["lon"] for r in answer["sites"]],
                                                 [r["lat"] for r in answer["sites"]]), cov.circle)
    gained = after.figures()["overall"]["covered_share"] - before
    reported = answer["sites"][-1]["cumulative_demand"] - answer["served_before"]
    assert reported / cov.figures()["overall"]["demand_total"] == pytest.approx(gained, abs=0.002)
    assert gained > 0.15  # three new circles of ~2.9 km² in a 36 km² square, not overlapping
    with pytest.raises(CoverageError) as err:
        suggest_sites(cov, 100_000)
    assert err.value.parameter == "p" and "500" in err.value.message


def test_gap_hexagons_rank_uncovered_demand():
    cov = coverage_with_gap()
    rows = gap_hexagons(cov, 8, limit=500)
    assert rows and rows[0]["rank"] == 1
    values = [r["uncovered_demand"] for r in rows]
    assert values == sorted(values, reverse=True)
    uncovered = (1 - cov.figures()["overall"]["covered_share"]) * cov.figures()["overall"]["area_km2"]
    assert sum(values) == pytest.approx(uncovered, rel=0.01)
    assert {r["district"] for r in rows} == {"甲区"}
    doc = gaps_geojson(rows[:3])
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 7 and ring[0] == ring[-1]
    assert shapely.Polygon(ring).contains(shapely.Point(rows[0]["lon"], rows[0]["lat"]))


# --- demand layers ------------------------------------------------------------------

CSV = "名称,经度,纬度,订单量\n甲,116.40,39.90,3\n乙,116.41,39.91,5\n丙,116.40,39.90,2\n"


def test_demand_layer_round_trip(fresh_db):
    report = demand_layers.import_layer(fresh_db, "午高峰订单", CSV.encode(), "orders.csv",
                                        username="planner")
    assert report.ok and report.written == 3  # the same point twice is fine for demand
    layers = demand_layers.list_layers(fresh_db)
    assert [(x["name"], x["points"], x["total_weight"]) for x in layers] == [("午高峰订单", 3, 10.0)]
    points = demand_layers.load_layer_points(fresh_db, "午高峰订单")
    assert points.weights.tolist() == [3, 5, 2]
    with pytest.raises(CoverageError) as err:
        demand_layers.import_layer(fresh_db, "午高峰订单", CSV.encode(), "orders.csv")
    assert "已有" in err.value.message
    assert demand_layers.delete_layer(fresh_db, "午高峰订单")
    assert not demand_layers.delete_layer(fresh_db, "午高峰订单")
    with pytest.raises(CoverageError) as err:
        demand_layers.load_layer_points(fresh_db, "午高峰订单")
    assert err.value.parameter == "demand"


def test_a_bad_row_rejects_the_whole_layer_with_row_and_column(fresh_db):
    bad = "经度,纬度,权重\n116.40,39.90,1\n116.41,abc,2\n116.42,39.92,-3\n39.9,116.4,1\n"
    report = demand_layers.import_layer(fresh_db, "坏文件", bad.encode(), "bad.csv")
    assert not report.ok and report.written == 0
    text = demand_layers.format_layer_report(report)
    assert "第 3 行 [纬度] 错误" in text
    assert "第 4 行 [权重] 错误" in text
    assert "填反" in text
    assert "未写入任何数据" in text
    assert demand_layers.list_layers(fresh_db) == []


def test_gcj02_xlsx_and_geojson_layers(fresh_db):
    from openpyxl import Workbook

    from geodata.datum import wgs84_to_gcj02

    book = Workbook()
    sheet = book.active
    sheet.append(["骑手轨迹点"])  # a title line above the header
    sheet.append(["lng", "lat", "count"])
    glon, glat = wgs84_to_gcj02(116.40, 39.90)
    sheet.append([glon, glat, 4])
    data = io.BytesIO()
    book.save(data)
    report = demand_layers.import_layer(fresh_db, "轨迹", data.getvalue(), "pings.xlsx", datum="gcj02")
    assert report.ok, demand_layers.format_layer_report(report)
    points = demand_layers.load_layer_points(fresh_db, "轨迹")
    assert (points.lons[0], points.lats[0]) == pytest.approx((116.40, 39.90), abs=1e-7)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.4, 39.9]},
         "properties": {"weight": 2}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[116.4, 39.9]]},
         "properties": {"weight": 2}}]}
    report = demand_layers.import_layer(fresh_db, "工地", json.dumps(doc).encode(), "sites.geojson")
    assert not report.ok
    assert "第 2 个要素 [geometry] 错误：几何类型应为 Point" in demand_layers.format_layer_report(report)
    with pytest.raises(CoverageError):
        demand_layers.import_layer(fresh_db, " ", b"", "x.csv")


def test_a_datum_column_gives_each_rows_datum(fresh_db):
    from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(116.40, 39.90)
    blon, blat = wgs84_to_bd09(116.41, 39.91)
    text = (f"经度,纬度,权重,坐标系\n{glon},{glat},3,GCJ-02\n{blon},{blat},2,百度\n"
            f"116.42,39.92,1,\n116.43,39.93,1,WGS-84\n")
    report = demand_layers.import_layer(fresh_db, "混合", text.encode("gbk"), "mixed.csv")  # Excel's GBK
    assert report.ok, demand_layers.format_layer_report(report)
    text_report = demand_layers.format_layer_report(report, "混合")
    assert "坐标系按“坐标系”列" in text_report and "已忽略" not in text_report
    points = demand_layers.load_layer_points(fresh_db, "混合")
    assert list(points.lons) == pytest.approx([116.40, 116.41, 116.42, 116.43], abs=1e-6)
    assert list(points.lats) == pytest.approx([39.90, 39.91, 39.92, 39.93], abs=1e-6)
    bad = demand_layers.import_layer(fresh_db, "坏坐标系", "经度,纬度,坐标系\n116.4,39.9,墨卡托\n".encode(), "b.csv")
    assert not bad.ok and "坏坐标系" not in [layer["name"] for layer in demand_layers.list_layers(fresh_db)]
    assert "第 2 行 [坐标系] 错误：坐标系“墨卡托”无法识别" in demand_layers.format_layer_report(bad)
