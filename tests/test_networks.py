"""Street networks (issue 19): importing extracts, refusals, and coverage along streets,
checked against a plain Dijkstra over the same segments on a real extract."""

from __future__ import annotations

import heapq
import io
import re
import json

import numpy as np
import pytest

from stations.coverage.figures import DemandPoints, StationSet, evaluate
from stations.coverage.grid import Circle, area_for
from stations.coverage.network import evaluate_network
from stations.networks import load_graph, networks_dir
from stations.networks.build import MAX_SNAP_M
from tests.conftest import make_station
from tests.network_support import HELSINKI, helsinki_in_beijing, metres, write_pbf


@pytest.fixture(scope="session")
def city_pbf(tmp_path_factory):
    """Central Helsinki moved into central Beijing (a real street network)."""
    return helsinki_in_beijing(tmp_path_factory.mktemp("osm") / "city.osm.pbf")


@pytest.fixture
def city(app, runner, city_pbf):
    result = runner.invoke(args=["network", "import", str(city_pbf), "--name", "景山"])
    assert result.exit_code == 0, result.output
    return app


# --- import, list, delete, refusals ---------------------------------------------------------

def test_import_list_delete(city, runner):
    listed = runner.invoke(args=["network", "list"])
    assert "景山" in listed.output and "步行 6,363 段" in listed.output
    again = runner.invoke(args=["network", "import", str(HELSINKI),
                                "--name", "景山"])
    assert again.exit_code != 0 and "已有名为“景山”的道路网络" in again.output
    gone = runner.invoke(args=["network", "delete", "景山"])
    assert gone.exit_code == 0 and "已删除" in gone.output
    assert "景山" not in runner.invoke(args=["network", "list"]).output
    assert runner.invoke(args=["network", "delete", "景山"]).exit_code != 0


def _poi_only(path):
    lon, lat = 116.40, 39.91
    return write_pbf(path, {1: (lon, lat), 2: (lon + 0.001, lat)},
                     [(10, [1, 2], {"building": "yes"})])


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "文件是空的"),
    (lambda p: p.write_text("name,lon,lat\n驿站,116.4,39.9\n"), "不是 OpenStreetMap 的 .osm.pbf"),
    (lambda p: p.write_bytes(HELSINKI.read_bytes()), "不在中国境内"),
    (_poi_only, "没有可步行或骑行的道路"),
    (lambda p: p.write_bytes(HELSINKI.read_bytes()[:20_000]), "文件损坏"),
])
def test_bad_extracts_are_refused_in_chinese(app, runner, tmp_path, make, reason):
    path = tmp_path / "bad.osm.pbf"
    make(path)
    result = runner.invoke(args=["network", "import", str(path), "--name", "坏"])
    assert result.exit_code != 0
    assert reason in result.output and "Traceback" not in result.output
    assert "坏" not in runner.invoke(args=["network", "list"]).output


# --- against an independent Dijkstra ------------------------------------------------------------

def _brute_snap(graph, x, y):
    """Nearest point of the nearest segment, by measuring every segment."""
    net = graph.net
    ax, ay, bx, by = net.x[net.u], net.y[net.u], net.x[net.v], net.y[net.v]
    dx, dy = bx - ax, by - ay
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    d = np.hypot(ax + t * dx - x, ay + t * dy - y)
    e = int(np.argmin(d))
    return (e, float(t[e]), float(d[e])) if d[e] <= MAX_SNAP_M else None


def _plain_metres(graph, place, stations):
    """Metres from a place to each station along the segments (heapq Dijkstra, travel direction)."""
    net = graph.net
    adj = {}

    def add(a, b, w):
        adj.setdefault(a, []).append((b, w))

    points = {}  # segment -> [(t, node)] of joined points on it
    for key, snap in [("place", place)] + [(("st", i), s) for i, s in enumerate(stations)]:
        if snap is not None:
            points.setdefault(snap[0], []).append((snap[1], key))
    for e in range(len(net.u)):
        chain = [(0.0, int(net.u[e]))] + sorted(points.get(e, []), key=lambda p: p[0]) + [(1.0, int(net.v[e]))]
        for (t0, n0), (t1, n1) in zip(chain, chain[1:]):
            w = (t1 - t0) * float(net.length[e])
            if net.fwd[e]:
                add(n0, n1, w)
            if net.bwd[e]:
                add(n1, n0, w)
    dist, heap = {"place": place[2]}, [(place[2], 0, "place")]
    count = 1
    while heap:
        d, _, node = heapq.heappop(heap)
        if d > dist.get(node, np.inf):
            continue
        for nxt, w in adj.get(node, ()):
            if d + w < dist.get(nxt, np.inf):
                dist[nxt] = d + w
                count += 1
                heapq.heappush(heap, (d + w, count, nxt))
    return [dist.get(("st", i), np.inf) + s[2] if s is not None else np.inf for i, s in enumerate(stations)]


@pytest.mark.parametrize("mode", ["walk", "ebike"])
def test_network_coverage_agrees_with_a_plain_dijkstra(city, mode):
    graph = load_graph(networks_dir(city.config["YIZHAN_DB"]), "景山", mode)
    rng = np.random.default_rng(7)
    minlon, minlat, maxlon, maxlat = graph.meta["bounds"]
    st_lon = rng.uniform(minlon, maxlon, 12)
    st_lat = rng.uniform(minlat, maxlat, 12)
    stations = StationSet.from_points(zip(st_lon, st_lat))
    circle = Circle(minutes=5, mode=mode)
    area = area_for("beijing", ["东城区", "西城区"], 100)
    cov = evaluate_network(area, stations, circle, graph)
    reach = 5 / 60 * circle.speed * 1000
    st_snaps = [_brute_snap(graph, *map(float, graph.to_xy(lo, la))) for lo, la in zip(st_lon, st_lat)]
    cells = cov.cells
    lon, lat = area.to_lonlat(cells.x, cells.y)
    assert len(cells.x) > 200  # the extent holds a few hundred of the districts' cells
    agree = 0
    for i in rng.choice(len(cells.x), 150, replace=False):
        snap = _brute_snap(graph, *map(float, graph.to_xy(lon[i], lat[i])))
        if snap is None:
            assert cells.count[i] == 0 and not np.isfinite(cells.distance[i])
            continue
        metres_to = sorted(_plain_metres(graph, snap, st_snaps))
        expected_count = int(metres_to[0] <= reach) + int(metres_to[1] <= reach)
        assert cells.distance[i] == pytest.approx(metres_to[0], abs=0.01)
        assert cells.count[i] == expected_count, (i, metres_to[:2], reach)
        agree += 1
    assert agree > 100
    figures = cov.figures()
    share = float(np.average(cells.count >= 1, weights=cells.weight))
    assert figures["overall"]["covered_share"] == pytest.approx(share, abs=1e-4)
    # outside the extent is said, not counted: nearly all of 东城+西城 lies outside 2.5 km²
    assert figures["overall"]["outside_network_share"] > 0.9
    circles = evaluate(area, stations, circle).figures()
    assert "outside_network_share" not in circles["overall"]


# --- the river case -----------------------------------------------------------------------------

ORIGIN = (116.30, 39.99)  # 海淀区


def river_pbf(path):
    """Two street grids 200 m apart across a river, joined only by a bridge 3 km north."""
    nodes, ways, nid = {}, [], [0]

    def node(dx, dy):
        nid[0] += 1
        nodes[nid[0]] = metres(*ORIGIN, dx, dy)
        return nid[0]

    wid = 100
    for x0 in (0, 1200):  # west bank x 0..1000, east bank x 1200..2200
        grid = {(i, j): node(x0 + i * 100, j * 100) for i in range(11) for j in range(31)}
        for j in range(31):
            wid += 1
            ways.append((wid, [grid[(i, j)] for i in range(11)], {"highway": "residential"}))
        for i in range(11):
            wid += 1
            ways.append((wid, [grid[(i, j)] for j in range(31)], {"highway": "residential"}))
        if x0 == 0:
            west_end = grid[(10, 30)]
        else:
            east_end = grid[(0, 30)]
    ways.append((wid + 1, [west_end, east_end], {"highway": "footway", "bridge": "yes"}))
    return write_pbf(path, nodes, ways)


def test_river_station_across_the_water_is_not_nearest_nor_covering(app, runner, fresh_db, tmp_path):
    result = runner.invoke(args=["network", "import", str(river_pbf(tmp_path / "river.osm.pbf")),
                                 "--name", "河"])
    assert result.exit_code == 0, result.output
    graph = load_graph(networks_dir(app.config["YIZHAN_DB"]), "河", "walk")
    place = metres(*ORIGIN, 900, 100)
    across = metres(*ORIGIN, 1300, 100)     # 400 m away, across the river
    same_side = metres(*ORIGIN, 300, 400)  # 670 m away, same bank
    area = area_for("beijing", ["海淀区"], 100)
    only_across = StationSet.from_points([across])
    demand = DemandPoints([place[0]], [place[1]], [1.0], "骑手")
    cov = evaluate_network(area, only_across, Circle(minutes=15), graph, demand)
    assert cov.sites.count[0] == 0  # the bridge makes it a 6 km walk
    assert cov.sites.distance[0] == pytest.approx(100 + 2900 + 200 + 2900 + 100, rel=0.01)
    circle = evaluate(area, only_across, Circle(minutes=15), demand)
    assert circle.sites.count[0] == 1  # the circle says covered
    both = evaluate_network(area, StationSet.from_points([across, same_side]), Circle(minutes=15), graph, demand)
    assert both.sites.count[0] == 1 and both.sites.single[0] == 1  # the same-bank one covers it
    assert both.sites.distance[0] == pytest.approx(600 + 300, rel=0.01)


# --- the API and the CLI --------------------------------------------------------------------------

def test_coverage_by_network_in_the_api_and_the_cli(city, fresh_db, runner, client, auth):
    for k in range(4):
        make_station(fresh_db, name=f"驿站{k}", lon=116.390 + 0.004 * k, lat=39.925)
    query = {"district": "西城区", "network": "景山", "cell_m": "100"}
    auth.login("planner")
    api = client.get("/api/v1/coverage", query_string=query).get_json()
    assert api["params"]["network"] == "景山" and api["params"]["reach_m"] == 1250
    assert 0 < api["overall"]["covered_share"] < 1
    assert api["overall"]["outside_network_share"] > 0.9
    cli = runner.invoke(args=["coverage", "--district", "西城区", "--network", "景山", "--json"])
    assert json.loads(cli.stdout) == api
    text = runner.invoke(args=["coverage", "--district", "西城区", "--network", "景山"]).output
    assert "按道路网络“景山”" in text
    bad = client.get("/api/v1/coverage", query_string={**query, "network": "火星"})
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "network"
    assert "没有名为“火星”的道路网络" in bad.get_json()["error"]["message"]


# --- riders: nearest along the streets ----------------------------------------------------------

@pytest.fixture
def river(app, runner, fresh_db, tmp_path):
    result = runner.invoke(args=["network", "import", str(river_pbf(tmp_path / "river.osm.pbf")),
                                 "--name", "河"])
    assert result.exit_code == 0, result.output
    across = make_station(fresh_db, name="对岸驿站", lon=metres(*ORIGIN, 1300, 100)[0],
                          lat=metres(*ORIGIN, 1300, 100)[1], district="海淀区")
    same = make_station(fresh_db, name="同岸驿站", lon=metres(*ORIGIN, 300, 400)[0],
                        lat=metres(*ORIGIN, 300, 400)[1], district="海淀区")
    return {"across": across, "same": same, "place": metres(*ORIGIN, 900, 100)}


def test_nearest_by_network_ranks_the_same_bank_first(river, client):
    lon, lat = river["place"]
    straight = client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, "k": 2}).get_json()
    assert [r["station"]["id"] for r in straight["results"]] == [river["across"], river["same"]]
    assert "network_minutes" not in straight["results"][0]
    by = client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, "k": 2, "by": "network"}).get_json()
    assert [r["station"]["id"] for r in by["results"]] == [river["same"], river["across"]]
    first, second = by["results"]
    assert first["network_m"] == pytest.approx(900, rel=0.01) and first["network_minutes"] == 11
    assert second["network_m"] == pytest.approx(6200, rel=0.01) and second["network_minutes"] == 75
    assert second["distance_m"] == pytest.approx(400, rel=0.01)  # the straight line stays beside it
    assert by["query"]["by"] == "network" and by["query"]["network"] == "河"
    # where no network covers the point, the straight line answers and says so
    far = client.get("/api/v1/nearest", query_string={"lon": 116.6, "lat": 40.3, "by": "network"}).get_json()
    assert far["query"]["by"] == "straight" and far["query"]["network"] is None
    bad = client.get("/api/v1/nearest", query_string={"lon": lon, "lat": lat, "by": "car"})
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "by"


def test_rider_page_walks_along_the_streets(river, client):
    lon, lat = river["place"]
    page = client.get("/nearby", query_string={"lon": lon, "lat": lat, "mode": "walk"}).get_data(as_text=True)
    assert "步行约 11 分钟（按道路）" in page and "步行约 75 分钟（按道路）" in page
    assert page.index("同岸驿站") < page.index("对岸驿站")
    elsewhere = client.get("/nearby", query_string={"lon": 116.40, "lat": 39.91}).get_data(as_text=True)
    assert "按道路" not in elsewhere


# --- /plan: upload as a background job, service areas, what the circles overstate ---------------

def _drop_spooled_upload():
    """Werkzeug's test client spools a multipart body over 500 KB to a TemporaryFile it never
    closes; collect it here, quietly, rather than let its ResourceWarning fail whichever
    later test the garbage collector happens to run in."""
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_plan_upload_builds_a_network_in_a_job_and_the_page_measures_along_it(
        app, client, auth, fresh_db, city_pbf, inline_plan_jobs):
    from tests.conftest import csrf_token, finish_plan_job

    for k in range(4):
        make_station(fresh_db, name=f"驿站{k}", lon=116.390 + 0.004 * k, lat=39.925)
    auth.login("planner")
    token = csrf_token(client, "/plan")
    bad = finish_plan_job(client, client.post("/plan/networks", content_type="multipart/form-data", data={
        "name": "坏文件", "csrf_token": token, "file": (io.BytesIO(b"not a pbf"), "x.osm.pbf")}))
    assert bad.status_code == 400 and "不是 OpenStreetMap 的 .osm.pbf" in bad.get_data(as_text=True)
    done = finish_plan_job(client, client.post("/plan/networks", content_type="multipart/form-data", data={
        "name": "景山", "csrf_token": token, "file": (io.BytesIO(city_pbf.read_bytes()), "city.osm.pbf")}))
    assert done.status_code == 302, done.get_data(as_text=True)[-1500:]
    _drop_spooled_upload()
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已导入道路网络“景山”" in page and "坏文件" not in page
    taken = client.post("/plan/networks", content_type="multipart/form-data", data={
        "name": "景山", "csrf_token": token, "file": (io.BytesIO(b"x"), "y.osm.pbf")})
    assert taken.status_code == 400 and "已有名为“景山”的道路网络" in taken.get_data(as_text=True)

    query = {"run": "1", "district": "西城区", "network": "景山"}
    page = client.get("/plan", query_string=query).get_data(as_text=True)
    assert "按道路网络“景山”计算" in page and "最多 300 米" in page
    assert re.search(r"西城区：服务圈高估 \d+\.\d 个百分点（服务圈 [\d.]+%，按道路 [\d.]+%）", page)
    for datum_tiles in ("amap", "osm"):
        map_html = client.get("/plan/map", query_string={**query, "tiles": datum_tiles}).get_data(as_text=True)
        label = "沿道路 15 分钟可达范围（景山）"
        assert (label in map_html or json.dumps(label)[1:-1] in map_html) and '"station_id"' in map_html
    assert client.post("/plan/networks/delete", data={"name": "景山", "csrf_token": token}).status_code == 302
    gone = client.get("/api/v1/coverage", query_string={"network": "景山"})
    assert gone.status_code == 400 and gone.get_json()["error"]["parameter"] == "network"


def test_service_areas_are_drawn_where_the_tiles_put_the_streets(city):
    """On Amap the areas move with GCJ-02 like the stations do; on OSM they stay WGS-84."""
    from geodata.datum import from_wgs84_array
    from stations.coverage.maps import overlays

    graph = load_graph(networks_dir(city.config["YIZHAN_DB"]), "景山", "walk")
    stations = StationSet.from_points([(116.395, 39.925)])
    cov = evaluate_network(area_for("beijing", ["西城区", "东城区"], 100), stations, Circle(minutes=5), graph)
    osm = overlays(cov, tiles="osm")["service_areas"]
    amap = overlays(cov, tiles="amap")["service_areas"]
    assert len(osm) == len(amap) == 1
    ring = np.array(osm[0]["geometry"]["coordinates"][0])
    moved = np.array(amap[0]["geometry"]["coordinates"][0])
    glon, glat = from_wgs84_array(ring[:, 0], ring[:, 1], "gcj02")
    assert np.abs(moved[:, 0] - glon).max() < 2e-5 and np.abs(moved[:, 1] - glat).max() < 2e-5
    # the area lies around the station and within 5 minutes' walk (417 m) plus the drawing's margin
    lon, lat = ring[:, 0], ring[:, 1]
    assert lon.min() < 116.395 < lon.max() and lat.min() < 39.925 < lat.max()
    assert (np.abs(lon - 116.395) * 85_000).max() < 417 + 60 and (np.abs(lat - 39.925) * 111_000).max() < 417 + 60
