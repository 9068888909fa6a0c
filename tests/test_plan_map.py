"""The /plan map and tables as a planner reads them (issue 18, items 5 and 6)."""

from __future__ import annotations

import re

import numpy as np

from stations.coverage.figures import DemandPoints, StationSet, evaluate
from stations.coverage.grid import Circle, area_for
from stations.coverage.maps import LEGEND_STEPS, NO_SHARE, overlays, plan_map_html

def demand_coverage():
    """Stations in 东城区 only; all demand beside them: the area is little covered, the demand all."""
    area = area_for("beijing", ["东城区", "西城区"], 200)
    stations = StationSet([1, 2], [116.40, 116.42], [39.91, 39.93], names=["甲", "乙"])
    demand = DemandPoints([116.401, 116.421], [39.911, 39.931], [5.0, 3.0], name="订单")
    return evaluate(area, stations, Circle(15, "walk"), demand)

def test_with_a_demand_layer_districts_are_coloured_by_demand_covered():
    cov = demand_coverage()
    data = {f["properties"]["name"]: f["properties"] for f in overlays(cov)["districts"]}
    assert data["东城区"]["covered_share"] < 0.5 and data["东城区"]["demand_covered_share"] == 1.0
    assert data["东城区"]["share"] == 1.0 and data["西城区"]["share"] is None
    html = plan_map_html(cov, demand_label="订单")
    top = LEGEND_STEPS[-1][1]
    assert f'"fillColor": "{top}"' in html, "东城区 is not drawn in the colour of 100 % demand covered"
    assert f'"fillColor": "{NO_SHARE}"' in html, "西城区 (no demand) is not drawn grey"
    assert "需求覆盖率（按区，订单）" in html and "无需求点" in html
    # tooltips read as percentages, not fractions
    assert '"demand_covered": "100.0%"' in html
    covered = data["东城区"]["covered_share"]
    assert f'"covered": "{covered * 100:.1f}%"' in html
    assert '"demand_covered", "covered"' in html  # the tooltip's first figure is the demand covered

def test_without_a_layer_districts_are_coloured_by_area_covered():
    area = area_for("beijing", ["东城区"], 200)
    cov = evaluate(area, StationSet([1], [116.40], [39.91]), Circle(15, "walk"))
    html = plan_map_html(cov)
    assert f'"fillColor": "{LEGEND_STEPS[0][1]}"' in html  # a few percent covered: the lowest step
    assert "覆盖率（按区）" in html and "需求覆盖率" not in html and "无需求点" not in html
    share = overlays(cov)["districts"][0]["properties"]["covered_share"]
    assert f'"covered": "{share * 100:.1f}%"' in html
    assert np.isclose(overlays(cov)["districts"][0]["properties"]["share"], share)


def test_criticality_names_outside_districts_rounds_and_links(fresh_db, client, auth):
    """A station in 西城区 whose circle alone covers part of 东城区: the table names its
    district (not None), the CSV has no float noise, names link to the station's page."""
    from tests.conftest import make_station

    inside = make_station(fresh_db, name="东城站", lon=116.41, lat=39.915)
    across = make_station(fresh_db, name="西城站", lon=116.385, lat=39.915, district="西城区")
    auth.login("planner")
    query = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "100"}
    page = client.get("/plan", query_string={**query, "run": "1", "p": "0"}).get_data(as_text=True)
    table = page[page.index('id="criticality"'):page.index('id="demand-layers"')]
    assert "None" not in table
    assert f'<td>{across}</td><td><a href="/stations/{across}">西城站</a></td><td>西城区（所选区以外）</td>' in table
    assert f'<td>{inside}</td><td><a href="/stations/{inside}">东城站</a></td><td>东城区</td>' in table
    rows = client.get("/plan/criticality.csv", query_string=query).get_data(as_text=True)
    assert "西城区（所选区以外）" in rows
    noisy = re.findall(r"\d+\.\d{7,}", rows)
    assert noisy == [], noisy
