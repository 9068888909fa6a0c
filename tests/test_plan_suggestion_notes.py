"""The /plan page says why it suggests fewer sites than asked, and what uniform demand means
for the suggestions (issue 18, items 3 and 7)."""

from __future__ import annotations

import re

import pytest

from stations.coverage.demand import import_layer
from tests.conftest import make_station

QUERY = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "200", "run": "1"}


@pytest.fixture
def two_gaps(fresh_db):
    """One station; a demand layer with a covered point and two uncovered ones far apart."""
    make_station(fresh_db, name="甲站", lon=116.405, lat=39.915)
    import_layer(fresh_db, "订单", "经度,纬度,订单量\n116.405,39.915,5\n116.42,39.95,3\n116.40,39.87,2\n".encode(),
                 "o.csv")
    return fresh_db


def note_of(page: str) -> str:
    match = re.search(r'<p class="note" id="suggest-note">(.*?)</p>', page)
    assert match, "the page does not say why fewer sites were suggested"
    return match.group(1)


def test_fewer_sites_than_asked_because_all_demand_is_served(two_gaps, client, auth):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "demand": "订单", "p": "20", "spacing_m": "200"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert note_of(text) == "要求建议 20 个新站点，只建议了 2 个：这 2 个站点已覆盖全部未覆盖的需求，不需要更多。"


def test_fewer_sites_than_asked_because_few_candidates_reach_the_demand(two_gaps, client, auth, inline_plan_jobs):
    from tests.test_coverage_web import upload_candidates

    auth.login("planner")
    answer = upload_candidates(client, "名称,经度,纬度\n近点,116.42,39.951\n远点,116.05,40.45\n另一远点,116.06,40.45\n",
                               "minutes=15&mode=walk&district=东城区&cell_m=200&demand=订单&p=5")
    assert answer.status_code == 302
    text = client.get(answer.headers["Location"]).get_data(as_text=True)
    note = note_of(text)
    assert note.startswith("要求建议 5 个新站点，只建议了 1 个：只有 1 个上传的候选点能覆盖到未覆盖的需求")
    assert "剩下 2.000（权重） 未覆盖的需求不在任何候选点的服务圈内（请上传更多候选点）" in note


def test_as_many_sites_as_asked_need_no_note(two_gaps, client, auth):
    auth.login("planner")
    text = client.get("/plan", query_string={**QUERY, "demand": "订单", "p": "1"}).get_data(as_text=True)
    assert 'id="suggest-note"' not in text


def test_ties_go_to_the_candidate_of_highest_priority():
    from stations.coverage.suggest import greedy_mclp

    # candidates 0 and 1 each cover one site of weight 1: a tie, which candidate 1 wins by priority
    site_of, cand_of = [0, 1], [0, 1]
    assert greedy_mclp([1.0, 1.0], [1, 1], site_of, cand_of, 2, 1)[0] == [0]
    chosen, gains = greedy_mclp([1.0, 1.0], [1, 1], site_of, cand_of, 2, 1, priority=[-5.0, -1.0])
    assert chosen == [1] and gains == [1.0]
    # a larger gain still beats priority
    assert greedy_mclp([2.0, 1.0], [1, 1], site_of, cand_of, 2, 1, priority=[-5.0, -1.0])[0] == [0]


def test_uniform_demand_is_explained_and_ties_go_toward_a_layers_demand(fresh_db, client, auth):
    """No station in 东城区: every full disc ties under uniform demand.  With a layer in the
    database, the site goes next to its demand, and the page says why uniform demand misleads."""
    import math

    auth.login("planner")
    query = {**QUERY, "p": "1", "spacing_m": "500"}
    page = client.get("/plan", query_string=query).get_data(as_text=True)
    note = re.search(r'<p class="note" id="uniform-note">(.*?)</p>', page, re.S)
    assert note, "uniform demand is not explained"
    assert "每个未覆盖的地方同等重要" in note.group(1) and "请在“需求”中选择或上传需求图层" in note.group(1)
    assert "已优先选离现有站点更近的" in note.group(1)
    import_layer(fresh_db, "人口", "经度,纬度,人数\n116.42,39.88,100\n".encode(), "p.csv")
    page = client.get("/plan", query_string=query).get_data(as_text=True)
    assert "已优先选离需求图层“人口”的需求点更近的" in page
    assert re.search(r'<option value="人口" selected>需求图层“人口”</option>', page)
    site = re.search(r"<td>(116\.\d+),(39\.\d+)</td>", page[page.index('id="suggestions"'):])
    lon, lat = float(site.group(1)), float(site.group(2))
    metres = math.hypot((lon - 116.42) * 85_000, (lat - 39.88) * 111_000)
    assert metres < 600, f"the tie went {metres:.0f} m from the layer's demand"
    # the download names the same site
    rows = client.get("/plan/suggestions.csv", query_string={k: v for k, v in query.items() if k != "run"})
    assert f"{lon},{lat}" in rows.get_data(as_text=True)
    # asked to prefer the stations instead (there are none: the first of the ties)
    other = client.get("/plan", query_string={**query, "near": "stations"}).get_data(as_text=True)
    assert "已优先选离现有站点更近的" in other


def test_with_a_layer_chosen_there_is_no_uniform_note(two_gaps, client, auth):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "demand": "订单", "p": "1"}).get_data(as_text=True)
    assert 'id="uniform-note"' not in page
