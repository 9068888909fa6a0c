"""获奖 and a minimum 七有 total as filters: the directory page, /api/v1/stations and /api/v1/nearest."""

import random
import re

import numpy as np
import pytest

from stations.campaign import default_rubric, inspect_station
from stations.riders.nearest import NearestIndex, brute_force_nearest
from stations.openapi import openapi_document
from tests.conftest import make_station

INSPECTOR = {"username": "inspector", "role": "admin"}
AWARD = [{"title": "2021年度最美工会户外劳动者服务站点", "year": 2021}]


def inspect(db, station_id, score):
    """A 七有 inspection giving every criterion ``score`` (so the total is score × 10)."""
    keys = [c["key"] for c in default_rubric()["criteria"]]
    inspect_station(db, station_id, {"scores": {k: score for k in keys}}, INSPECTOR)


@pytest.fixture
def four(fresh_db):
    """Along a line east of Tiananmen, nearest first from (116.3900, 39.9087):
    无奖 (nothing), 七有70, 获奖 (award, no checklist), 七有先50后90 (latest counts)."""
    plain = make_station(fresh_db, name="无奖站", lon=116.3905)
    seventy = make_station(fresh_db, name="七有70站", lon=116.3920)
    awarded = make_station(fresh_db, name="获奖站", lon=116.3940, awards=AWARD)
    ninety = make_station(fresh_db, name="七有先50后90站", lon=116.3960)
    inspect(fresh_db, seventy, 7)
    inspect(fresh_db, ninety, 5)
    inspect(fresh_db, ninety, 9)
    return {"plain": plain, "seventy": seventy, "awarded": awarded, "ninety": ninety}


def listed(html):
    return re.findall(r'<a class="name" href="/stations/\d+">([^<]*)</a>', html)


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def alert(html):
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.DOTALL)
    return match.group(1) if match else None


# --- the directory page ---------------------------------------------------------------------

def test_directory_filters_awarded_stations(client, four):
    assert listed(page(client, "/stations?awarded=1")) == ["获奖站"]
    assert len(listed(page(client, "/stations?awarded=0"))) == 4
    html = page(client, "/stations?awarded=1")
    assert re.search(r'name="awarded" value="1"\s+checked', html), "the 获奖 box does not stay ticked"
    assert not re.search(r'name="awarded" value="1"\s+checked', page(client, "/stations"))


def test_directory_filters_by_the_latest_qiyou_total(client, fresh_db, four):
    assert listed(page(client, "/stations?min_qiyou=65")) == ["七有70站", "七有先50后90站"]
    assert listed(page(client, "/stations?min_qiyou=80")) == ["七有先50后90站"]
    # an earlier 50 does not count, the latest 90 does; and a later inspection replaces the 70
    inspect(fresh_db, four["seventy"], 4)
    assert listed(page(client, "/stations?min_qiyou=65")) == ["七有先50后90站"]
    assert 'value="65"' in page(client, "/stations?min_qiyou=65"), "the minimum is not kept in its box"
    assert listed(page(client, "/stations?min_qiyou=0")) == ["七有70站", "七有先50后90站"]
    assert listed(page(client, "/stations?min_qiyou=80&awarded=1")) == []


def test_directory_paging_keeps_award_filters(app, client, fresh_db):
    app.config["YIZHAN_PAGE_SIZE"] = 2
    for i in range(4):
        inspect(fresh_db, make_station(fresh_db, name=f"获奖高分{i}", lon=116.39 + i * 0.001, awards=AWARD), 8)
    make_station(fresh_db, name="获奖无七有", lon=116.38, awards=AWARD)
    first = page(client, "/stations?awarded=1&min_qiyou=75.5")
    href = re.search(r'<a rel="next" href="([^"]+)">', first).group(1).replace("&amp;", "&")
    assert "awarded=1" in href and "min_qiyou=75.5" in href
    assert listed(page(client, href)) == ["获奖高分2", "获奖高分3"]


@pytest.mark.parametrize("query, word", [("min_qiyou=abc", "abc"), ("min_qiyou=101", "101"),
                                         ("min_qiyou=nan", "nan"), ("awarded=yes", "yes")])
def test_directory_explains_a_bad_filter_in_chinese(client, four, query, word):
    message = alert(page(client, f"/stations?{query}"))
    assert message and word in message and re.search(r"[\u4e00-\u9fff]", message), message


# --- /api/v1/stations -----------------------------------------------------------------------

def api(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    return response.get_json()


def test_stations_api_filters_awarded_and_min_qiyou(client, four):
    assert [f["id"] for f in api(client, "/api/v1/stations?awarded=1")["features"]] == [four["awarded"]]
    found = api(client, "/api/v1/stations?min_qiyou=80")
    assert [f["id"] for f in found["features"]] == [four["ninety"]] and found["total"] == 1
    assert found["features"][0]["properties"]["qiyou"]["total"] == 90
    assert api(client, "/api/v1/stations?min_qiyou=65&awarded=1")["total"] == 0
    assert api(client, "/api/v1/stations?awarded=0")["total"] == 4


@pytest.mark.parametrize("url", ["/api/v1/stations", "/api/v1/nearest?lon=116.39&lat=39.9087"])
@pytest.mark.parametrize("query, parameter", [
    ("awarded=yes", "awarded"), ("awarded=2", "awarded"), ("min_qiyou=abc", "min_qiyou"),
    ("min_qiyou=-1", "min_qiyou"), ("min_qiyou=100.5", "min_qiyou"), ("min_qiyou=inf", "min_qiyou"),
    ("min_qiyou=", "min_qiyou"), ("awarded=", "awarded")])
def test_bad_award_filters_are_400_naming_the_field(client, four, url, query, parameter):
    joiner = "&" if "?" in url else "?"
    error = api(client, f"{url}{joiner}{query}", status=400)["error"]
    assert error["status"] == 400 and error["parameter"] == parameter and error["message"]


# --- /api/v1/nearest ------------------------------------------------------------------------

def nearest_ids(client, query):
    answer = api(client, f"/api/v1/nearest?lon=116.3900&lat=39.9087&{query}")
    return [r["station"]["id"] for r in answer["results"]]


def test_nearest_filters_awarded_and_min_qiyou(client, fresh_db, four):
    assert nearest_ids(client, "k=1") == [four["plain"]]
    assert nearest_ids(client, "k=5&awarded=1") == [four["awarded"]]
    assert nearest_ids(client, "k=5&min_qiyou=65") == [four["seventy"], four["ninety"]]
    assert nearest_ids(client, "k=5&min_qiyou=95") == []
    assert api(client, "/api/v1/nearest?lon=116.39&lat=39.9087&awarded=1")["query"]["awarded"] is True
    # a new inspection counts at once (the filter is not stale in the process's index)
    inspect(fresh_db, four["plain"], 10)
    assert nearest_ids(client, "k=1&min_qiyou=95") == [four["plain"]]
    # and a new award too (the station changes, so the index is rebuilt)
    from stations import storage
    storage.update_station(fresh_db, four["plain"], {"awards": AWARD}, username="test")
    assert nearest_ids(client, "k=5&awarded=1") == [four["plain"], four["awarded"]]


def test_a_row_subset_gives_the_brute_force_answer():
    rng = random.Random(9)
    stations = [{"id": i + 1, "lon": 116.3 + rng.random() * 0.2, "lat": 39.85 + rng.random() * 0.15,
                 "status": rng.choice(["active", "active", "closed"]), "facilities": ["water"],
                 "hours": rng.choice([None, "Mo-Su 00:00-24:00", "Mo-Fr 08:00-18:00"])}
                for i in range(3000)]
    keep_ids = {s["id"] for s in stations if rng.random() < 0.02}  # sparse, like awards
    index = NearestIndex(stations)
    subset = index.subset(np.isin(index.ids, list(keep_ids)))
    kept = [s for s in stations if s["id"] in keep_ids]
    for _ in range(30):
        lon, lat = 116.3 + rng.random() * 0.2, 39.85 + rng.random() * 0.15
        for options in ({}, {"status": None}, {"only_24h": True}, {"radius_m": 4000}):
            got = [h.station_id for h in index.query(lon, lat, 5, subset=subset, **options)]
            want = [s["id"] for s, _ in brute_force_nearest(kept, lon, lat, 5, **options)]
            assert got == want, options
    empty = index.subset(np.zeros(len(index), dtype=bool))
    assert index.query(116.4, 39.9, 5, subset=empty) == []


def test_openapi_documents_the_award_filters():
    paths = openapi_document()["paths"]
    for path in ("/api/v1/stations", "/api/v1/nearest"):
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert params["awarded"]["schema"]["enum"] == [0, 1], path
        assert (params["min_qiyou"]["schema"]["minimum"], params["min_qiyou"]["schema"]["maximum"]) == (0, 100)
