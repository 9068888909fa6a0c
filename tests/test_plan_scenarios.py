"""Named /plan scenarios, saved and compared side by side (issue 18, item 10)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest

from tests.conftest import csrf_token, make_station

WALK = "minutes=15&mode=walk&district=东城区&cell_m=200&p=1"
EBIKE = "minutes=15&mode=ebike&district=东城区&cell_m=200&p=1"


@pytest.fixture
def planner(fresh_db, client, auth):
    make_station(fresh_db, name="甲站", lon=116.405, lat=39.915)
    auth.login("planner")
    return client


def save(client, name, query):
    return client.post("/plan/scenarios", data={"csrf_token": csrf_token(client, "/plan"), "scenario_name": name,
                                                "query": query})


def test_save_open_and_compare_two_scenarios(planner):
    first = save(planner, "步行方案", WALK)
    assert first.status_code == 302
    assert parse_qs(first.headers["Location"].split("?", 1)[1].split("#")[0])["mode"] == ["walk"]
    assert save(planner, "电动车方案", EBIKE).status_code == 302
    page = planner.get("/plan").get_data(as_text=True)
    section = page[page.index('id="scenarios"'):page.index('id="demand-layers"')]
    assert "步行方案" in section and "电动车方案" in section
    ids = re.findall(r'<option value="(\d+)"', section[section.index('id="compare-form"'):])
    walk_api = planner.get("/api/v1/coverage?" + WALK).get_json()
    ebike_api = planner.get("/api/v1/coverage?" + EBIKE).get_json()
    compared = planner.get("/plan/compare", query_string={"a": ids[1], "b": ids[0]})  # newest listed first
    text = compared.get_data(as_text=True)
    assert compared.status_code == 200
    assert "A：步行方案" in text and "B：电动车方案" in text
    assert text.count('class="compare-map"') == 2 and "mode=ebike" in text and "mode=walk" in text
    row = re.search(r'<tr class="total"><td>全部</td>(.*?)</tr>', text, re.S).group(1)
    a, b = walk_api["overall"]["covered_share"], ebike_api["overall"]["covered_share"]
    assert f"<td>{a * 100:.1f}%</td><td>{b * 100:.1f}%</td><td>{(b - a) * 100:+.1f} 个百分点</td>" in row
    assert b > a  # the e-bike's circle is three times as wide


def test_a_taken_or_empty_name_is_refused_with_the_settings_kept(planner):
    assert save(planner, "方案", WALK).status_code == 302
    again = save(planner, "方案", EBIKE)
    text = again.get_data(as_text=True)
    assert again.status_code == 409 and "已有名为“方案”的方案：请换个名字，或先删除旧的。" in text
    assert re.search(r'<option value="ebike" selected>', text)  # the settings on screen are the new ones
    empty = save(planner, "  ", WALK)
    assert empty.status_code == 400 and "请给方案起个名字" in empty.get_data(as_text=True)
    bad = save(planner, "坏", "minutes=abc&district=东城区")
    assert bad.status_code == 400 and "不是数字" in bad.get_data(as_text=True)


def test_scenarios_are_their_planners_own(planner, client, auth, app):
    from stations import storage
    from stations.accounts import users

    save(planner, "我的", WALK)
    page = planner.get("/plan").get_data(as_text=True)
    sid = re.search(r"/plan/scenarios/(\d+)/delete", page).group(1)
    db = storage.connect(app.config["YIZHAN_DB"])
    users.add_user(db, "planner2", "plan-pass-2", "planner")
    db.conn.close()
    auth.logout()
    token = csrf_token(client)
    client.post("/login", data={"username": "planner2", "password": "plan-pass-2", "csrf_token": token})
    assert "我的" not in client.get("/plan").get_data(as_text=True)
    assert client.get("/plan/compare", query_string={"a": sid, "b": sid}).status_code == 404
    client.post(f"/plan/scenarios/{sid}/delete", data={"csrf_token": csrf_token(client, "/plan")})
    auth.logout()
    auth.login("planner")
    assert "我的" in client.get("/plan").get_data(as_text=True)  # not deleted by another planner
