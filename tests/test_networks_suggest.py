"""Suggestions along the streets (issue 19): a candidate site's reach is measured as a
station's is, so the demand a suggestion claims is exactly what the coverage along the
streets gains when the suggested sites are added as stations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stations.coverage.figures import DemandPoints, StationSet
from stations.coverage.grid import Circle, area_for
from stations.coverage.network import evaluate_network
from stations.coverage.suggest import suggest_sites
from stations.networks import load_graph, networks_dir
from tests.conftest import make_station
from tests.network_support import helsinki_in_beijing


@pytest.fixture(scope="session")
def city_pbf(tmp_path_factory):
    return helsinki_in_beijing(tmp_path_factory.mktemp("osm") / "city.osm.pbf")


@pytest.fixture
def city(app, runner, city_pbf):
    result = runner.invoke(args=["network", "import", str(city_pbf), "--name", "景山"])
    assert result.exit_code == 0, result.output
    return app


EXISTING = [(116.393, 39.925), (116.398, 39.927)]


def _served(area, circle, graph, points, demand, target):
    cov = evaluate_network(area, StationSet.from_points(points), circle, graph, demand)
    return float(cov.sites.weight[cov.sites.count >= target].sum())


@pytest.mark.parametrize("layer, double, mode", [(False, False, "walk"), (True, True, "walk"),
                                                 (False, False, "ebike")])
def test_suggested_sites_add_what_the_streets_say(city, layer, double, mode):
    graph = load_graph(networks_dir(city.config["YIZHAN_DB"]), "景山", mode)
    area = area_for("beijing", ["东城区", "西城区"], 100)
    circle = Circle(minutes=5 if mode == "walk" else 2, mode=mode)
    demand = None
    if layer:
        rng = np.random.default_rng(3)
        minlon, minlat, maxlon, maxlat = graph.meta["bounds"]
        demand = DemandPoints(rng.uniform(minlon, maxlon, 800), rng.uniform(minlat, maxlat, 800),
                              rng.uniform(0.5, 2.0, 800), "骑手")
    cov = evaluate_network(area, StationSet.from_points(EXISTING), circle, graph, demand)
    answer = suggest_sites(cov, 4, spacing_m=200, double=double)
    rows = answer["sites"]
    assert len(rows) == 4
    target = 2 if double else 1
    before = _served(area, circle, graph, EXISTING, demand, target)
    assert answer["served_before"] == pytest.approx(before, abs=1e-4)
    added = []
    for k, row in enumerate(rows):
        added.append((row["lon"], row["lat"]))
        now = _served(area, circle, graph, EXISTING + added, demand, target)
        # each pick adds exactly what it claimed, measured along the streets as stations are
        assert row["cumulative_demand"] == pytest.approx(now, abs=2e-4), (k, row)
    assert rows[-1]["cumulative_demand"] > before


def test_suggest_by_network_in_the_cli(city, fresh_db, runner, client, auth):
    for lon, lat in EXISTING:
        make_station(fresh_db, name=f"驿站{lon}", lon=lon, lat=lat, district="西城区")
    args = ["suggest", "-p", "3", "--minutes", "5", "--district", "东城区", "--district", "西城区",
            "--network", "景山", "--spacing-m", "200", "--json"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    rows = rows["sites"] if isinstance(rows, dict) else rows
    graph = load_graph(networks_dir(city.config["YIZHAN_DB"]), "景山", "walk")
    area = area_for("beijing", ["东城区", "西城区"], 100)
    now = _served(area, Circle(minutes=5), graph, EXISTING + [(r["lon"], r["lat"]) for r in rows], None, 1)
    assert rows[-1]["cumulative_demand"] == pytest.approx(now, abs=2e-4)
