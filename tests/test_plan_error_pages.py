"""Error pages of /plan lead back to the form with the planner's settings (issue 18, item 9)."""

from __future__ import annotations

import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import csrf_token, finish_plan_job, make_station

SETTINGS = "minutes=12&mode=ebike&district=东城区&cell_m=200&p=3"


def back_settings(page: str) -> dict:
    link = re.search(r'<a href="([^"]+)" id="plan-back">返回覆盖规划（保留刚才的设置）</a>', page)
    assert link, "no way back to the form with the settings"
    target = urlsplit(html.unescape(link.group(1)))
    assert target.path == "/plan"
    return parse_qs(target.query)


@pytest.fixture
def planner(fresh_db, client, auth):
    make_station(fresh_db, name="甲站", lon=116.405, lat=39.915)
    auth.login("planner")
    return client


def test_a_refused_download_or_map_leads_back_with_the_settings(planner):
    for path in ("/plan/gaps.csv", "/plan/map"):
        answer = planner.get(f"{path}?{SETTINGS}&resolution=12")
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "H3 分辨率 12 超出范围 5–10" in page
        kept = back_settings(page)
        assert kept["minutes"] == ["12"] and kept["mode"] == ["ebike"] and kept["resolution"] == ["12"]


def test_a_failed_background_computation_leads_back_with_the_settings(planner, app, inline_plan_jobs):
    app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 1  # every computation runs as a job
    answer = planner.get(f"/plan?{SETTINGS}&resolution=12&run=1")
    page = finish_plan_job(planner, answer).get_data(as_text=True)
    assert "H3 分辨率 12 超出范围 5–10" in page
    kept = back_settings(page)
    assert kept["district"] == ["东城区"] and kept["p"] == ["3"] and "run" not in kept


def test_demand_uploads_keep_the_settings_refused_or_reported(planner, inline_plan_jobs):
    def upload(name, text):
        data = {"csrf_token": csrf_token(planner, "/plan"), "name": name, "datum": "wgs84", "query": SETTINGS,
                "file": (io.BytesIO(text.encode()), "o.csv")}
        return planner.post("/plan/demand", data=data, content_type="multipart/form-data")

    report = finish_plan_job(planner, upload("订单", "经度,纬度,订单量\n116.40,139.91,5\n"))
    page = report.get_data(as_text=True)
    assert report.status_code == 400 and "第 2 行" in page
    assert back_settings(page)["minutes"] == ["12"]
    again = re.search(r'name="query" value="([^"]*)"', page)  # another try keeps them too
    assert again and parse_qs(html.unescape(again.group(1))) == parse_qs(SETTINGS)
    refused = upload("", "经度,纬度,订单量\n116.40,39.91,5\n")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.search(r'name="minutes"[^>]*value="12"', page), "the form lost the planner's minutes"
    assert re.search(r'<option value="ebike" selected>', page)
