"""Coverage through the CLI, the API, the /plan page and the map (names escaped, Amap aligned)."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from geodata.datum import wgs84_to_gcj02
from stations.coverage.figures import StationSet, evaluate
from stations.coverage.gaps import gap_hexagons
from stations.coverage.grid import Circle, area_for
from stations.coverage.maps import overlays, plan_map_html
from stations.maps import safe_label
from tests.conftest import make_station

HOSTILE = ["{{7*7}}", "{% raw %}", "{#", "${alert(1)}", "a`b", "</script><script>alert(1)</script>"]
QUERY = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "200"}


@pytest.fixture
def filled(fresh_db):
    for k, name in enumerate(HOSTILE):
        make_station(fresh_db, name=name, lon=116.405 + 0.004 * k, lat=39.915)
    make_station(fresh_db, name="关闭站", lon=116.41, lat=39.92, status="closed")
    return fresh_db


def test_cli_and_api_give_the_same_figures(filled, runner, client, auth):
    result = runner.invoke(args=["coverage", "--district", "东城区", "--cell-m", "200", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    auth.login("planner")
    api = client.get("/api/v1/coverage", query_string=QUERY).get_json()
    assert api == cli
    assert api["params"]["radius_m"] == pytest.approx(961.5, abs=0.1)
    assert api["overall"]["stations"] == len(HOSTILE)  # the closed one does not count
    assert 0 < api["overall"]["covered_share"] < 1
    assert [d["district"] for d in api["districts"]] == ["东城区"]
    csv_text = runner.invoke(args=["coverage", "--district", "东城区", "--cell-m", "200", "--csv"]).stdout
    assert csv_text.splitlines()[0].startswith("district,stations,area_km2")
    assert csv_text.splitlines()[-1].startswith("全部,")


def test_api_refuses_strangers_and_names_bad_parameters(filled, client, auth):
    assert client.get("/api/v1/coverage").status_code == 401
    auth.login("reviewer")
    assert client.get("/api/v1/coverage").status_code == 403
    auth.logout()
    auth.login("planner")
    bad = client.get("/api/v1/coverage", query_string={"mode": "car"})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["parameter"] == "mode"
    huge = client.get("/api/v1/coverage", query_string={"cell_m": "20"})
    assert huge.status_code == 400 and "上限" in huge.get_json()["error"]["message"]
    assert client.get("/api/v1/coverage", query_string={"district": "火星区"}).status_code == 400


def test_api_accepts_basic_auth(filled, client):
    import base64

    token = base64.b64encode(b"planner:plan-pass-1").decode()
    answer = client.get("/api/v1/coverage", query_string=QUERY, headers={"Authorization": f"Basic {token}"})
    assert answer.status_code == 200 and answer.get_json()["overall"]["stations"] == len(HOSTILE)


def test_plan_page_shows_figures_chart_tables_and_hostile_names_literally(filled, client, auth):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "run": "1", "p": "3", "close": "1"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<svg id=\"coverage-chart\"" in text and "东城区 覆盖率" in text
    assert "关键站点" in text and "假设分析" in text
    assert ">{{7*7}}</a></td>" in text and "<td>49</td>" not in text  # shown as typed, not run (a link since item 6)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "</script><script>alert(1)" not in text
    for table in ("figures.csv", "gaps.csv", "gaps.geojson", "suggestions.csv", "criticality.csv"):
        download = client.get(f"/plan/{table}", query_string={**QUERY, "p": "2"})
        assert download.status_code == 200, table
    rows = client.get("/plan/criticality.csv", query_string=QUERY).get_data(as_text=True)
    assert "${alert(1)}" in rows  # the CSV keeps the name as it is
    bad = client.get("/plan", query_string={"run": "1", "minutes": "abc"})
    assert "分钟数“abc”不是数字" in bad.get_data(as_text=True)


@pytest.mark.parametrize("field, value, shown", [
    ("minutes", "0", "分钟数 0 超出范围 1–120 分钟"), ("detour", "5", "绕行系数 5 超出范围 1–3"),
    ("speed_kmh", "0", "速度 0 超出范围 1–60 公里/小时"), ("p", "100000", "新站点数 p 100000 超出范围 0–500"),
    ("resolution", "12", "H3 分辨率 12 超出范围 5–10"), ("close", "abc", "关闭站点：要关闭的站点编号“abc”不是整数"),
])
def test_plan_page_names_a_bad_value_in_chinese_and_keeps_it(filled, client, auth, field, value, shown):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "run": "1", field: value}).get_data(as_text=True)
    error = re.search(r'<p class="error" id="plan-error"[^>]*>(.*?)</p>', page).group(1)
    assert error == shown  # the form's own words, not minutes = 0.0 / p = 100000
    assert re.search(rf'name="{field}"[^>]*value="{value}"', page)  # what was typed stays in the form


def test_plan_page_is_for_planners_and_admins(filled, client, auth):
    assert client.get("/plan").status_code == 302  # to the login page
    auth.login("reviewer")
    assert client.get("/plan").status_code == 403


def test_demand_upload_through_the_page(filled, client, auth, inline_plan_jobs):
    from tests.conftest import csrf_token, finish_plan_job

    auth.login("planner")
    token = csrf_token(client, "/plan")
    data = {"name": "订单${x}", "datum": "wgs84", "csrf_token": token,
            "file": (io.BytesIO("经度,纬度,订单量\n116.40,39.91,5\n".encode()), "o.csv")}
    answer = finish_plan_job(client, client.post("/plan/demand", data=data, content_type="multipart/form-data"))
    assert "已保存需求图层" in answer.get_data(as_text=True)
    figures = client.get("/api/v1/coverage", query_string={**QUERY, "demand": "订单${x}"}).get_json()
    assert figures["overall"]["demand_covered_share"] == 1.0
    assert client.post("/plan/demand/delete", data={"name": "订单${x}", "csrf_token": token}).status_code == 302
    missing = client.get("/api/v1/coverage", query_string={**QUERY, "demand": "订单${x}"})
    assert missing.status_code == 400 and missing.get_json()["error"]["parameter"] == "demand"


# --- the map --------------------------------------------------------------------------

def small_coverage():
    area = area_for("beijing", ["东城区", "西城区"], 200)
    stations = StationSet([1, 2, 3], [116.40, 116.41, 116.37], [39.91, 39.92, 39.90],
                          names=HOSTILE[:3])
    return evaluate(area, stations, Circle(15, "walk"))


def test_map_makes_every_hostile_text_inert():
    cov = small_coverage()
    gaps = gap_hexagons(cov, 8, limit=20)
    sites = [{"rank": i + 1, "lon": 116.39 + i * 0.01, "lat": 39.93, "district": "东城区", "name": name,
              "added_demand": 1.0} for i, name in enumerate(HOSTILE)]
    for name in HOSTILE:
        html = plan_map_html(cov, gaps=gaps, suggestions=sites, demand_label=name)
        assert safe_label(name) in html
        assert "</script><script>alert(1)" not in html
        assert "${alert(1)}" not in html and "{{7*7}}" not in html and "a`b" not in html
        assert "cdnjs" not in html and "cdn.jsdelivr" not in html  # vendored scripts only
        assert "/static/vendor/markercluster/leaflet.markercluster.js" in html
    # stations are one compact array, not one script per marker
    assert html.count("L.circleMarker") == 1 + len(sites)


def test_every_overlay_is_converted_for_amap():
    cov = small_coverage()
    gaps = gap_hexagons(cov, 8, limit=10)
    sites = [{"rank": 1, "lon": 116.39, "lat": 39.93, "district": "东城区", "name": "x", "added_demand": 1.0}]
    osm = overlays(cov, tiles="osm", gaps=gaps, suggestions=sites)
    amap = overlays(cov, tiles="amap", gaps=gaps, suggestions=sites)

    def expect(lon, lat):
        return wgs84_to_gcj02(lon, lat)

    for lon, lat, glon, glat in zip(osm["stations"]["lons"], osm["stations"]["lats"],
                                    amap["stations"]["lons"], amap["stations"]["lats"]):
        assert (glon, glat) == pytest.approx(expect(lon, lat), abs=1e-9)
    for o, a in zip(osm["hexagons"], amap["hexagons"]):
        for (lon, lat), (glon, glat) in zip(o["geometry"]["coordinates"][0], a["geometry"]["coordinates"][0]):
            assert (glon, glat) == pytest.approx(expect(lon, lat), abs=2e-6)
    for o, a in zip(osm["sites"], amap["sites"]):
        assert (a["lon"], a["lat"]) == pytest.approx(expect(o["lon"], o["lat"]), abs=1e-9)
    for o, a in zip(osm["districts"], amap["districts"]):
        oc = np.array(o["geometry"]["coordinates"][0][0][:5] if o["geometry"]["type"] == "MultiPolygon"
                      else o["geometry"]["coordinates"][0][:5])
        ac = np.array(a["geometry"]["coordinates"][0][0][:5] if a["geometry"]["type"] == "MultiPolygon"
                      else a["geometry"]["coordinates"][0][:5])
        moved = np.array([expect(lon, lat) for lon, lat in oc])
        assert np.abs(ac - moved).max() < 3e-5  # the same boundary in GCJ-02 (both rounded to 1e-5)
    assert np.abs(np.array(amap["bounds"]) - np.array(osm["bounds"])).max() > 1e-3
    html = plan_map_html(cov, tiles="amap", gaps=gaps, suggestions=sites)
    assert "autonavi.com" in html and "tile.openstreetmap.org" not in html
    assert re.search(r'"lat0":\s*39', html)


def test_api_accepts_a_planners_bearer_token_and_documents_it(filled, client, runner, auth):
    def token(name, *extra):
        result = runner.invoke(args=["user", "token", name, *extra])
        assert result.exit_code == 0, result.output
        return {"Authorization": f"Bearer {result.output.split()[-1]}"}

    planner = token("planner")
    answer = client.get("/api/v1/coverage", query_string=QUERY, headers=planner)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    auth.login("planner")
    assert answer.get_json() == client.get("/api/v1/coverage", query_string=QUERY).get_json()
    auth.logout()
    assert client.get("/api/v1/coverage", query_string=QUERY, headers=token("reviewer")).status_code == 403
    assert client.get("/api/v1/coverage", query_string=QUERY,
                      headers={"Authorization": "Bearer yz_not-a-token"}).status_code == 401
    runner.invoke(args=["user", "token", "planner", "--revoke"])
    assert client.get("/api/v1/coverage", query_string=QUERY, headers=planner).status_code == 401
    security = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/coverage"]["get"]["security"]
    assert {"bearerAuth": []} in security and {"basicAuth": []} in security


def test_suggestions_download_as_geojson_from_the_page_and_the_cli(filled, client, runner, auth):
    import csv

    auth.login("planner")
    query = {**QUERY, "p": "3", "spacing_m": "400"}
    page = client.get("/plan", query_string={**query, "run": "1"}).get_data(as_text=True)
    assert re.search(r'href="/plan/suggestions\.geojson\?[^"]*p=3', page), "no GeoJSON link beside the table"
    answer = client.get("/plan/suggestions.geojson", query_string=query)
    assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
    assert "coverage-suggestions.geojson" in answer.headers["Content-Disposition"]
    doc = answer.get_json(force=True)
    table = list(csv.DictReader(io.StringIO(
        client.get("/plan/suggestions.csv", query_string=query).get_data(as_text=True).lstrip("\ufeff"))))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == len(table) == 3
    for feature, row in zip(doc["features"], table):  # the CSV in Chinese headers (issue 18, item 8)
        assert feature["geometry"]["type"] == "Point"
        assert feature["geometry"]["coordinates"] == [float(row["经度"]), float(row["纬度"])]
        assert feature["properties"]["rank"] == int(row["序号"])
        assert feature["properties"]["district"] == row["区"] == "东城区"
        assert feature["properties"]["added_demand"] == pytest.approx(float(row["新增需求（km²）"]))
    assert doc["params"]["radius_m"] == pytest.approx(961.5, abs=0.1)
    cli = runner.invoke(args=["suggest", "-p", "3", "--spacing-m", "400", "--district", "东城区",
                              "--cell-m", "200", "--geojson"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout) == doc


# --- candidate sites uploaded on /plan -------------------------------------------------------

CANDIDATES = "名称,经度,纬度\n候选甲,116.4000,39.9150\n候选乙,116.4200,39.9300\n候选丙,116.3950,39.9050\n"


def upload_candidates(client, text, query, filename="c.csv"):
    """The upload, read in its background job: the job's page at its end."""
    from tests.conftest import csrf_token, finish_plan_job

    data = {"csrf_token": csrf_token(client, "/plan"), "datum": "wgs84", "query": query,
            "file": (io.BytesIO(text.encode()), filename)}
    return finish_plan_job(client, client.post("/plan/candidates", data=data, content_type="multipart/form-data"))


@pytest.mark.usefixtures("inline_plan_jobs")
def test_candidate_upload_on_the_page_picks_from_the_file_and_keeps_the_settings(filled, client, runner,
                                                                                   auth, tmp_path):
    from urllib.parse import parse_qs, urlsplit

    auth.login("planner")
    settings = "minutes=12&mode=walk&district=东城区&cell_m=200&p=2&resolution=7"
    answer = upload_candidates(client, CANDIDATES, settings)
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    kept = parse_qs(target.query)
    assert kept["minutes"] == ["12"] and kept["district"] == ["东城区"] and kept["p"] == ["2"]
    assert kept["resolution"] == ["7"] and kept["run"] == ["1"] and kept["candidates"]
    page = client.get(target.path + "?" + target.query).get_data(as_text=True)
    assert "3 个候选点" in page  # the flash says what was read
    assert re.search(r'name="candidates" value="[0-9a-f]{16}" checked', page), "the set is not kept in the form"
    named = re.findall(r"<td>(候选[甲乙丙])</td>", page)
    assert len(named) == 2, "suggestions are not the uploaded candidates"
    download = client.get("/plan/suggestions.csv?" + target.query).get_data(as_text=True)
    assert sorted(re.findall(r"候选[甲乙丙]", download)) == sorted(named)
    assert client.get("/plan/map?" + target.query).status_code == 200
    # the CLI with the same file gives the same sites
    path = tmp_path / "c.csv"
    path.write_text(CANDIDATES, encoding="utf-8")
    cli = runner.invoke(args=["suggest", "-p", "2", "--minutes", "12", "--district", "东城区", "--cell-m", "200",
                              "--candidates", str(path), "--json"])
    assert cli.exit_code == 0, cli.output
    sites = json.loads(cli.stdout)["sites"]
    assert [s["name"] for s in sites] == named
    # unticking the set goes back to a grid
    grid = {k: v for k, v in kept.items() if k != "candidates"}
    page = client.get("/plan", query_string={**{k: v[0] for k, v in grid.items()}}).get_data(as_text=True)
    assert not re.findall(r"<td>候选[甲乙丙]</td>", page)


@pytest.mark.usefixtures("inline_plan_jobs")
def test_a_bad_candidates_file_is_refused_whole_with_rows_named(filled, client, auth, db_path):
    from stations.coverage.candidates import candidates_dir

    auth.login("planner")
    settings = "minutes=12&district=东城区&cell_m=200&p=2"
    bad = CANDIDATES + "坏点,116.41,139.9\n候选丁,abc,39.91\n"
    answer = upload_candidates(client, bad, settings)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "第 5 行" in text and "纬度" in text and "第 6 行" in text and "经度" in text
    assert "未写入任何数据" in text
    assert 'href="/plan?minutes=12&amp;district=' in text  # back to the page, settings kept
    folder = candidates_dir(db_path)
    assert not folder.exists() or not list(folder.glob("*.json")), "a refused file was kept"
    empty = upload_candidates(client, "名称,经度,纬度\n", settings)
    assert empty.status_code == 400 and "没有数据行" in empty.get_data(as_text=True)
    headless = upload_candidates(client, "a,b\n1,2\n", settings)
    assert headless.status_code == 400 and "找不到表头" in headless.get_data(as_text=True)


@pytest.mark.parametrize("key", ["0123456789abcdef", "../../etc/passwd", "x" * 300])
def test_an_unknown_or_forged_candidates_key_is_explained(filled, client, auth, key):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "run": "1", "candidates": key})
    assert page.status_code == 200
    assert 'id="plan-error" role="alert">候选点文件不存在或已过期' in page.get_data(as_text=True)
    download = client.get("/plan/suggestions.csv", query_string={**QUERY, "candidates": key})
    assert download.status_code == 400 and "重新上传" in download.get_data(as_text=True)


@pytest.mark.usefixtures("inline_plan_jobs")
def test_the_page_says_why_nothing_is_suggested_and_in_what_unit_demand_is(filled, client, auth):
    auth.login("planner")
    none_asked = client.get("/plan", query_string={**QUERY, "run": "1", "p": "0"}).get_data(as_text=True)
    assert "新站点数 p 为 0：没有要求建议新站点" in none_asked
    assert "未覆盖需求（km²）" in none_asked and "独占需求（km²）" in none_asked  # uniform demand: area
    # candidates far from every gap (in another district): gaps exist, but none can be served
    answer = upload_candidates(client, "名称,经度,纬度\n远处,116.05,40.45\n", "minutes=15&mode=walk&district=东城区&cell_m=200&p=2")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    suggestions = page[page.index('id="suggestions"'):page.index('id="criticality"')]
    assert "<td>远处</td>" not in suggestions
    assert "上传的候选点都覆盖不到未覆盖的需求" in suggestions
    assert "不需要新站点" not in suggestions  # there are gaps: the page must not say all is covered


def test_the_map_choice_starts_at_the_configured_tiles_and_keeps_the_planners(filled, client, auth):
    """The map is drawn on YIZHAN_TILES (Amap by default, which works in China); the form
    must show that choice, or its first submit would switch the map to OpenStreetMap."""
    auth.login("planner")
    page = client.get("/plan").get_data(as_text=True)
    assert re.search(r'<option value="amap" selected>', page) and not re.search(r'<option value="osm" selected>', page)
    page = client.get("/plan", query_string={**QUERY, "tiles": "osm"}).get_data(as_text=True)
    assert re.search(r'<option value="osm" selected>', page) and not re.search(r'<option value="amap" selected>', page)


def test_a_what_if_over_a_district_without_demand_points_shows_a_dash(filled, client, auth, fresh_db):
    """A demand layer whose points all lie in 东城区; the what-if covers 西城区 too, which has
    no demand share (was a 500: the page multiplied None by 100)."""
    from stations.coverage.demand import import_layer

    import_layer(fresh_db, "东城订单", "经度,纬度,订单量\n116.41,39.915,5\n".encode(), "o.csv")
    auth.login("planner")
    answer = client.get("/plan", query_string={**QUERY, "district": "东城区,西城区", "demand": "东城订单",
                                               "run": "1", "p": "1", "close": "1"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    page = answer.get_data(as_text=True)
    whatif = page[page.index('id="whatif"'):]
    row = whatif[whatif.index("<td>西城区</td>"):]
    row = row[:row.index("</tr>")]
    assert row.count("<td>-</td>") == 2  # demand share before and after: none in 西城区
    assert "100.0%" in whatif[whatif.index("<td>东城区</td>"):]


@pytest.mark.usefixtures("inline_plan_jobs")
@pytest.mark.parametrize("header", ["候选点名称", "点位名称", "地点名称"])
def test_candidate_names_under_planners_headers_are_kept_and_other_columns_named(filled, client, auth, header):
    from urllib.parse import urlsplit

    auth.login("planner")
    text = (f"{header},经度,纬度,容量\n候选甲,116.4000,39.9150,3\n候选乙,116.4200,39.9300,5\n"
            "候选丙,116.3950,39.9050,2\n")
    answer = upload_candidates(client, text, "minutes=12&mode=walk&district=东城区&cell_m=200&p=2")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    page = client.get(target.path + "?" + target.query).get_data(as_text=True)
    assert len(re.findall(r"<td>(候选[甲乙丙])</td>", page)) == 2, "the names were lost"
    assert "候选点文件中未识别、已忽略的列：容量" in page
