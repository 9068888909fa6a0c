"""/plan downloads as a planner opens them (issue 18, item 8): named by scenario, Chinese
headers with percentages, a datum choice, every gap; the JSON API keeps codes and fractions."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from urllib.parse import quote

import pytest

from geodata.datum import wgs84_to_gcj02
from stations.storage import TZ
from tests.conftest import make_station

QUERY = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "200"}


@pytest.fixture
def stations(fresh_db):
    for k in range(3):
        make_station(fresh_db, name=f"站{k}", lon=116.40 + 0.01 * k, lat=39.915)
    return fresh_db


def table(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_files_are_named_by_their_scenario(stations, client, auth):
    auth.login("planner")
    today = datetime.now(TZ).strftime("%Y-%m-%d")
    answer = client.get("/plan/figures.csv", query_string={**QUERY, "district": "海淀区"})
    name = f"覆盖_海淀_步行15分钟_{today}.csv"
    disposition = answer.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert disposition.isascii()  # the Chinese name travels percent-encoded (RFC 5987)
    other = client.get("/plan/suggestions.xlsx", query_string={**QUERY, "mode": "ebike", "minutes": "10",
                                                                 "district": ["东城区", "西城区"], "p": "1"})
    assert quote(f"建议站点_东城+西城_电动自行车10分钟_{today}.xlsx", safe="") in other.headers["Content-Disposition"]


def test_csv_and_xlsx_speak_chinese_in_percent_while_the_api_keeps_codes(stations, client, auth):
    from openpyxl import load_workbook

    auth.login("planner")
    api = client.get("/api/v1/coverage", query_string=QUERY).get_json()
    assert 0 < api["overall"]["covered_share"] < 1  # the published contract: a fraction under its code
    rows = table(client.get("/plan/figures.csv", query_string=QUERY))
    assert rows[0][:5] == ["区", "站点数", "面积（km²）", "站点/km²", "覆盖率（%）"]
    assert rows[-1][0] == "全部"
    assert float(rows[-1][4]) == pytest.approx(api["overall"]["covered_share"] * 100)
    book = load_workbook(io.BytesIO(client.get("/plan/figures.xlsx", query_string=QUERY).data), read_only=True)
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert sheet[0] == rows[0]
    assert sheet[-1][4] == pytest.approx(float(rows[-1][4]))
    critical = table(client.get("/plan/criticality.csv", query_string=QUERY))
    assert critical[0] == ["站点编号", "名称", "区", "独占需求（km²）", "占比（%）"]


def test_downloads_in_gcj02_say_so_and_move_every_point(stations, client, auth):
    auth.login("planner")
    query = {**QUERY, "p": "2", "spacing_m": "400"}
    wgs = table(client.get("/plan/suggestions.csv", query_string=query))
    gcj = table(client.get("/plan/suggestions.csv", query_string={**query, "datum": "gcj02"}))
    assert wgs[0][:3] == ["序号", "经度", "纬度"] and wgs[0][-1] == gcj[0][-1] == "坐标系"
    assert {r[-1] for r in wgs[1:]} == {"WGS-84"} and {r[-1] for r in gcj[1:]} == {"GCJ-02"}
    for w, g in zip(wgs[1:], gcj[1:]):
        assert (float(g[1]), float(g[2])) == pytest.approx(wgs84_to_gcj02(float(w[1]), float(w[2])), abs=2e-6)
    doc = client.get("/plan/gaps.geojson", query_string={**query, "datum": "gcj02"}).get_json(force=True)
    assert doc["datum"] == "gcj02"
    bad = client.get("/plan/gaps.csv", query_string={**query, "datum": "mars"})
    assert bad.status_code == 400 and "下载坐标系“mars”无效" in bad.get_data(as_text=True)


def test_the_gaps_download_holds_every_gap_not_the_first_100(stations, client, auth):
    auth.login("planner")
    query = {**QUERY, "resolution": "9", "p": "0"}
    page = client.get("/plan", query_string={**query, "run": "1"}).get_data(as_text=True)
    assert "下载的文件含全部缺口" in page
    rows = table(client.get("/plan/gaps.csv", query_string=query))
    assert len(rows) - 1 > 100
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(rows)))


def test_the_what_if_takes_a_site_in_gcj02(stations, client, auth):
    auth.login("planner")
    lon, lat = 116.43, 39.94
    glon, glat = wgs84_to_gcj02(lon, lat)

    def after(**extra):
        page = client.get("/plan", query_string={**QUERY, "run": "1", "p": "0", **extra}).get_data(as_text=True)
        whatif = page[page.index('id="whatif"'):page.index('id="map"')]
        return re.findall(r"<td>([\d.]+%)</td>", whatif)

    wgs = after(add=f"{lon},{lat}")
    assert after(add=f"{glon:.6f},{glat:.6f}", add_datum="gcj02") == wgs
    assert after(add=f"{glon:.6f},{glat:.6f}") != wgs  # taken as WGS-84, the site sits elsewhere
