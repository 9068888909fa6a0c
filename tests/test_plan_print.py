"""/plan laid out for print (issue 18, item 10): title, scenario, map with legend, scale and
north arrow, figures, date, and 合成数据 when the stations are synthetic."""

from __future__ import annotations

import re
from datetime import datetime

from stations.coverage.figures import StationSet, evaluate
from stations.coverage.grid import Circle, area_for
from stations.coverage.maps import plan_map_html
from stations.storage import TZ
from tests.conftest import finish_plan_job, make_station

QUERY = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "200", "p": "2", "close": "1"}


def test_the_print_page_names_its_scenario_date_and_map(fresh_db, client, auth):
    first = make_station(fresh_db, name="甲站", lon=116.405, lat=39.915)
    make_station(fresh_db, name="乙站", lon=116.42, lat=39.93)
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "run": "1"}).get_data(as_text=True)
    link = re.search(r'<p id="plan-print-link"><a href="([^"]+)">打印 / 导出 PDF', page)
    assert link, "the results do not offer a print layout"
    answer = client.get(link.group(1).replace("&amp;", "&") + "&title=东城区服务圈评估")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert '<h1 id="print-title">东城区服务圈评估</h1>' in text
    scenario = re.search(r'<p id="print-scenario">(.*?)</p>', text).group(1)
    assert scenario.startswith("东城区 · 步行 15 分钟（5 公里/小时，绕行系数 1.3，服务圈半径 962 米）")
    assert f"假设：关闭站点 {first}" in scenario
    assert datetime.now(TZ).strftime("%Y-%m-%d") in re.search(r'id="print-date">(.*?)</p>', text).group(1)
    assert re.search(r'<iframe id="print-map" title="覆盖地图" src="/plan/map\?[^"]*district=', text)
    assert "假设分析：前后对比" in text and "<td>全部</td>" in text
    assert 'id="print-synthetic"' not in text  # real stations: no synthetic mark
    make_station(fresh_db, name="演示站", lon=116.41, lat=39.92, synthetic=True)
    text = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "合成数据：含 1 个演示用合成站点，并非真实站点" in text


def test_a_background_result_prints_from_its_own_map(fresh_db, client, auth, app, inline_plan_jobs):
    make_station(fresh_db, name="甲站", lon=116.405, lat=39.915)
    app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 1
    auth.login("planner")
    page = finish_plan_job(client, client.get("/plan", query_string={**QUERY, "run": "1"}))
    key = re.search(r"/plan/jobs/([0-9a-f]{16})/print", page.get_data(as_text=True)).group(1)
    text = client.get(f"/plan/jobs/{key}/print").get_data(as_text=True)
    assert f'src="/plan/jobs/{key}/map"' in text and "服务圈半径 962 米" in text


def test_the_map_has_a_north_arrow_and_prints_without_buttons():
    area = area_for("beijing", ["东城区"], 200)
    html = plan_map_html(evaluate(area, StationSet([1], [116.40], [39.91]), Circle(15, "walk")))
    assert 'id="plan-north"' in html and ">北</div>" in html
    assert re.search(r"@media print \{ \.leaflet-control-zoom, \.leaflet-control-layers \{ display: none", html)
