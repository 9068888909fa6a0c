"""Riders on e-bikes (issue 19): ``/api/v1/nearest?by=network&mode=ebike`` ranks along the
e-bike network — one-way streets respected — with ``network_minutes`` at 15 km/h."""

from __future__ import annotations

import pytest

from tests.conftest import make_station
from tests.network_support import metres, write_pbf

ORIGIN = (116.30, 39.99)  # 海淀区


def oneway_pbf(path):
    """A street along y = 0 from x = 0 to 2000 m; between x = 1000 and 1500 it is one-way
    westward.  A loop north (x = 1000 → 1500 at y = 500) is the e-bike's way round."""
    nodes, nid = {}, [0]

    def node(dx, dy):
        nid[0] += 1
        nodes[nid[0]] = metres(*ORIGIN, dx, dy)
        return nid[0]

    west = [node(x, 0) for x in range(0, 1001, 100)]           # 0..1000
    oneway = [node(x, 0) for x in range(1500, 1099, -100)]     # 1500..1100, drawn westward
    east = [node(x, 0) for x in range(1600, 2001, 100)]        # 1600..2000
    loop = [node(1000, y) for y in range(100, 501, 100)] + [node(x, 500) for x in range(1100, 1501, 100)] \
        + [node(1500, y) for y in range(400, 99, -100)]
    ways = [(1, west, {"highway": "residential"}),
            (2, oneway + [west[-1]], {"highway": "residential", "oneway": "yes"}),
            (3, [oneway[0]] + east, {"highway": "residential"}),
            (4, [west[-1]] + loop + [oneway[0]], {"highway": "residential"})]
    return write_pbf(path, nodes, ways)


@pytest.fixture
def oneway(app, runner, fresh_db, tmp_path):
    result = runner.invoke(args=["network", "import", str(oneway_pbf(tmp_path / "oneway.osm.pbf")),
                                 "--name", "单行"])
    assert result.exit_code == 0, result.output
    east = make_station(fresh_db, name="单行东驿站", lon=metres(*ORIGIN, 1300, 0)[0],
                        lat=metres(*ORIGIN, 1300, 0)[1], district="海淀区")
    west = make_station(fresh_db, name="西驿站", lon=metres(*ORIGIN, 500, 0)[0],
                        lat=metres(*ORIGIN, 500, 0)[1], district="海淀区")
    return {"east": east, "west": west, "rider": metres(*ORIGIN, 950, 15)}


def test_ebike_ranking_respects_one_way_streets_at_15_kmh(oneway, client):
    lon, lat = oneway["rider"]
    query = {"lon": lon, "lat": lat, "k": 2, "by": "network"}
    walk = client.get("/api/v1/nearest", query_string=query).get_json()
    assert [r["station"]["id"] for r in walk["results"]] == [oneway["east"], oneway["west"]]
    assert walk["results"][0]["network_m"] == pytest.approx(15 + 350, rel=0.01)
    assert walk["results"][0]["network_minutes"] == 5  # 365 m at 5 km/h
    assert walk["query"]["network_speed_kmh"] == 5.0 and walk["query"]["mode"] == "walk"
    ride = client.get("/api/v1/nearest", query_string={**query, "mode": "ebike"}).get_json()
    assert ride["query"]["by"] == "network" and ride["query"]["mode"] == "ebike"
    assert ride["query"]["network_speed_kmh"] == 15.0
    # the one-way street turns the e-bike round the loop: the west station comes first
    assert [r["station"]["id"] for r in ride["results"]] == [oneway["west"], oneway["east"]]
    first, second = ride["results"]
    assert first["network_m"] == pytest.approx(15 + 450, rel=0.01) and first["network_minutes"] == 2
    assert second["network_m"] == pytest.approx(15 + 50 + 500 + 500 + 500 + 200, rel=0.01)
    assert second["network_minutes"] == 8  # 1765 m at 15 km/h = 7.1 min
    assert second["distance_m"] == pytest.approx(350, rel=0.01)  # the straight line stays beside it
    bad = client.get("/api/v1/nearest", query_string={**query, "mode": "car"})
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "mode"
    assert "expected walk or ebike" in bad.get_json()["error"]["message"]
