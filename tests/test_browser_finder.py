"""The rider's /nearby page in a real browser: Debian's headless chromium through Playwright.

The rider site (tests/rider_browser_support.py): one live server over a temporary database
of 2,000 synthetic Beijing stations plus a few hand-made ones, and one chromium for the
whole module.  Every request that leaves the test server is aborted, so the tests run offline.

Run them with ``./scripts/test`` (it installs Debian's chromium when missing).
"""

from __future__ import annotations

import gzip
import math
import re
import urllib.request
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import pytest

from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02
from stations.registry.records import FACILITIES
from stations.riders.nearest import brute_force_nearest
from stations.storage import TZ
from tests import rider_browser_support
from tests.browser_support import shot, wait_until
from tests.rider_browser_support import HERE, HOSTILE_NAME, HOSTILE_SPOT, _context, locate

pytestmark = pytest.mark.browser

# The rider site's fixtures (module-scoped: this file starts its own server and chromium).
live, browser, phone = rider_browser_support.live, rider_browser_support.browser, rider_browser_support.phone

PAGE_BUDGET_BYTES = 60 * 1000  # "at most 60 KB compressed" (read conservatively as 60,000)


# --- helpers ------------------------------------------------------------------------

def result_ids(page) -> list[int]:
    return [int(v) for v in page.locator("#results li.result").evaluate_all(
        "els => els.map(e => e.dataset.stationId)")]


def expected(live, lat, lon, k=10, **filters) -> list[tuple[dict, float]]:
    """Brute force over the stored stations, as the page asks by default (active, k=10)."""
    return brute_force_nearest(live.stations, lon, lat, k=k, status="active", **filters)


def expected_page(live, lat, lon, at) -> list[int]:
    """The rider page's list by brute force: the 10 nearest within 20 km and the 3 nearest
    open ones, open first, then hours unknown, then closed, each nearest first."""
    from stations.hours.now import open_state
    from stations.riders.directory import public_station

    near = expected(live, lat, lon, radius_m=20_000, at=at)
    near += [hit for hit in expected(live, lat, lon, k=3, radius_m=20_000, open_now=True, at=at)
             if hit[0]["id"] not in {s["id"] for s, _ in near}]
    rank = {True: 0, None: 1, False: 2}
    near.sort(key=lambda hit: (rank[open_state(public_station(hit[0]), at)["open"]], hit[1],
                               hit[0]["id"]))
    return [s["id"] for s, _ in near]


def distance_text(metres: float) -> str:
    return f"{round(metres)} 米" if metres < 1000 else f"{metres / 1000:.1f} 公里"


def _query(href: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


# --- tests --------------------------------------------------------------------------

def test_locate_finds_brute_force_nearest_with_map_links_in_each_datum(phone, live):
    page = phone.page
    page.goto("/nearby")
    locate(page)
    query = _query(page.url)
    assert (float(query["lat"]), float(query["lon"])) == pytest.approx(
        (HERE["latitude"], HERE["longitude"]), abs=1e-6)
    assert query.get("datum") == "wgs84"

    ids = result_ids(page)
    now = datetime.now(TZ)
    assert ids == expected_page(live, HERE["latitude"], HERE["longitude"], now)  # the whole list
    assert not {live.ids["closed_here"], live.ids["paused_here"], live.ids["pending_here"]} & set(ids)
    best = live.by_id[ids[0]]
    metres = next(m for s, m in expected(live, HERE["latitude"], HERE["longitude"], k=2000)
                  if s["id"] == best["id"])

    first = page.locator("#results li.result").first
    assert first.locator("a.name").text_content() == best["name"]
    shown = first.locator(".dist").text_content().strip()
    assert shown == distance_text(metres), (shown, metres)

    # Amap: a riding route to GCJ-02 "lon,lat,name" — converted, not the stored WGS-84.
    glon, glat = wgs84_to_gcj02(best["lon"], best["lat"])
    amap = _query(first.locator("a.nav-amap").get_attribute("href"))
    alon, alat, aname = amap["to"].split(",", 2)
    alon, alat = float(alon), float(alat)
    assert (alon, alat) == pytest.approx((glon, glat), abs=1e-5) and amap["mode"] == "ride"
    assert aname == best["name"]
    assert math.hypot(alon - best["lon"], alat - best["lat"]) > 0.003
    # Baidu: a riding route to BD-09 "latlng:lat,lon|name:…" from the rider's position.
    blon, blat = wgs84_to_bd09(best["lon"], best["lat"])
    baidu = _query(first.locator("a.nav-baidu").get_attribute("href"))
    bdlat, bdlon = (float(v) for v in re.match(r"latlng:([-\d.]+),([-\d.]+)\|",
                                               baidu["destination"]).groups())
    assert (bdlon, bdlat) == pytest.approx((blon, blat), abs=1e-5)
    assert baidu.get("coord_type") == "bd09ll" and baidu["mode"] == "riding"
    # Tencent: a bike route to GCJ-02 "lat,lon".
    tencent = _query(first.locator("a.nav-tencent").get_attribute("href"))
    tlat, tlon = (float(v) for v in tencent["tocoord"].split(","))
    assert (tlon, tlat) == pytest.approx((glon, glat), abs=1e-5) and tencent["type"] == "bike"
    assert phone.dialogs == []

    shot(page, "01-located")


def test_without_javascript_the_list_is_server_rendered(browser, live):
    context = _context(browser, live, geolocation=None, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/nearby?lat={HERE['latitude']}&lon={HERE['longitude']}")
        page.wait_for_selector("#results")
        ids = result_ids(page)
        assert ids == expected_page(live, HERE["latitude"], HERE["longitude"], datetime.now(TZ))
        # Point 6: what to do instead is said, and no button that does nothing is offered.
        help_text = page.locator("#noscript-help")
        assert help_text.is_visible() and "选择区" in help_text.text_content()
        assert "?lat=39.9087&lon=116.3975" in help_text.text_content()
        assert page.locator("#locate").is_hidden() and page.locator("#pick-on-map").is_hidden()
        page.goto(f"/stations/{ids[0]}")
        assert page.locator("p.notice", has_text="地图需要开启 JavaScript").is_visible()
        assert page.locator("iframe.smallmap").is_hidden()
        page.goto("/nearby")
        shot(page, "06-no-javascript")
    finally:
        context.close()


def test_district_lists_its_stations_without_distances(phone, live):
    district = "海淀区"
    page = phone.page
    page.goto("/nearby")
    page.select_option("select[name=district]", district)
    page.get_by_role("button", name="查找", exact=True).click()
    page.wait_for_url(re.compile(r"/nearby\?.*district="))
    page.wait_for_selector("#results")
    ids = result_ids(page)
    in_district = [s for s in live.stations if s["district"] == district and s["status"] == "active"]
    assert len(ids) == min(10, len(in_district))
    assert all(live.by_id[i]["district"] == district for i in ids)  # only the district's own
    results = page.locator("#results").inner_text()
    assert not re.search(r"\d 米|公里|步行约|骑车约", results)  # no made-up distances
    note = page.locator(".district-note").inner_text()
    assert f"{district}共有 {len(in_district)} 个驿站" in note and "不显示距离" in note
    assert page.get_by_role("button", name="📍 按我的位置排序").is_visible()
    shot(page, "04-district")


def test_open_now_and_facility_filters(phone, live):
    page = phone.page
    page.goto("/nearby")
    page.locator("input[name=open_now]").check()
    page.locator("input[name=facility][value=microwave]").check()
    before = datetime.now(TZ)
    locate(page)
    after = datetime.now(TZ)
    query = _query(page.url)
    assert query.get("open_now") == "1" and "microwave" in parse_qs(urlparse(page.url).query)["facility"]
    # The checkboxes stay ticked on the answer page.
    assert page.locator("input[name=open_now]").is_checked()
    assert page.locator("input[name=facility][value=microwave]").is_checked()

    ids = result_ids(page)
    assert ids, "the 24/7 station with a microwave 400 m away is always a result"
    answers = [[s["id"] for s, _ in expected(live, HERE["latitude"], HERE["longitude"],
                                             open_now=True, facilities=["microwave"], at=at)]
               for at in (before, after)]
    assert ids in answers  # the page's moment lies between the two
    assert live.ids["always"] in ids
    for item in page.locator("#results li.result").all():
        facilities = item.locator(".facilities .fac").all_text_contents()
        assert any(FACILITIES["microwave"] in text for text in facilities), facilities
        state = item.locator(".open")
        assert "open-True" in state.get_attribute("class").split()
        label = state.text_content().strip()
        assert label.startswith("营业中") or label == "24小时开放", label


def test_hostile_station_name_is_shown_as_text(browser, live):
    context = _context(browser, live, geolocation=HOSTILE_SPOT)
    try:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto("/nearby")
        locate(page)
        truth = expected(live, HOSTILE_SPOT["latitude"], HOSTILE_SPOT["longitude"], k=1)
        assert truth[0][0]["id"] == live.ids["hostile"]
        # Open stations come first, so find it by id (it is the nearest: it is listed).
        first = page.locator(f'#results li.result[data-station-id="{live.ids["hostile"]}"]')
        assert first.locator("a.name").text_content() == HOSTILE_NAME
        assert first.locator(".addr").text_content().strip() == "<b>海淀区</b>某路1号"
        assert page.locator("#results img, #results b:not(.dist)").count() == 0
        amap_to = _query(first.locator("a.nav-amap").get_attribute("href"))["to"]
        assert amap_to.split(",", 2)[2] == HOSTILE_NAME  # no separators in it to neutralise
        page.wait_for_timeout(300)  # give an injected onerror handler time to run
        assert dialogs == []
    finally:
        context.close()


class _Assets(HTMLParser):
    """Stylesheets, scripts and images a page links (what a browser fetches for it)."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split() and a.get("href"):
            self.urls.append(a["href"])
        elif tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])


def _compressed_size(url: str) -> tuple[int, bytes, str]:
    """Bytes for ``url`` with Accept-Encoding: gzip: on the wire when the server
    compresses, otherwise what gzip makes of the body (a compressing proxy's answer)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 200, url
        raw = response.read()
        encoding = response.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        return len(raw), gzip.decompress(raw), encoding
    assert encoding in ("", "identity"), encoding
    return len(gzip.compress(raw, compresslevel=6)), raw, encoding


def test_list_view_weight_and_no_leaflet(phone, live):
    page = phone.page
    page.goto("/nearby")
    locate(page)
    page.wait_for_load_state("load")
    assert result_ids(page)
    assert not [u for u in phone.requests if "leaflet" in u.lower()], phone.requests
    assert all(u.startswith(live.url + "/") or u.startswith("data:") for u in phone.requests)

    list_url = page.url
    total, html, _ = _compressed_size(list_url)
    parser = _Assets()
    parser.feed(html.decode("utf-8"))
    assets = [urljoin(list_url, u) for u in parser.urls]
    assert any(urlparse(u).path.endswith(".css") for u in assets), "the page links its stylesheet"
    assert not [u for u in assets if "leaflet" in u.lower()], assets
    for url in assets:
        total += _compressed_size(url)[0]
    assert total <= PAGE_BUDGET_BYTES, f"list view weighs {total} bytes compressed"


def test_map_fallback_loads_leaflet_on_demand_and_a_tap_searches(phone, live):
    page = phone.page
    page.goto("/nearby")
    assert page.locator("#pickmap").is_hidden()
    assert not [u for u in phone.requests if "leaflet" in u.lower()]
    with page.expect_request(re.compile(r"/static/vendor/leaflet/leaflet\.js")):
        page.get_by_role("button", name="在地图上选点").click()
    page.locator("#pickmap").wait_for(state="visible")
    wait_until(page, "() => window.L && document.querySelector('#pickmap.leaflet-container')")
    wait_until(page, "() => document.getElementById('locate-status').textContent.length > 0")

    box = page.locator("#pickmap").bounding_box()
    page.locator("#pickmap").click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    page.wait_for_url(re.compile(r"/nearby\?.*lat="))
    page.wait_for_selector("#results")
    query = _query(page.url)
    lat, lon = float(query["lat"]), float(query["lon"])
    # The map opens centred on Tiananmen: a tap in the middle lands within a few hundred metres.
    assert (lat, lon) == pytest.approx((39.9087, 116.3975), abs=0.01)
    assert query.get("datum") == "gcj02"  # Amap tiles (the default) are GCJ-02
    from geodata.datum import to_wgs84
    wlon, wlat = to_wgs84(lon, lat, "gcj02")
    ids = result_ids(page)
    assert ids and ids[0] == expected_page(live, wlat, wlon, datetime.now(TZ))[0]


# --- issue 10: what a rider on a phone runs into -----------------------------------

NIGHT = "2026-11-24T03:00"  # a Tuesday, 3 a.m. in Beijing


def test_at_night_open_stations_lead_and_closed_ones_are_apart(phone, live):
    page = phone.page
    page.goto(f"/nearby?lat={HERE['latitude']}&lon={HERE['longitude']}&at={NIGHT}")
    page.wait_for_selector("#results")
    at = datetime.fromisoformat(NIGHT).replace(tzinfo=TZ)
    ids = result_ids(page)
    assert ids == expected_page(live, HERE["latitude"], HERE["longitude"], at)
    headings = page.locator("#results h2.group").all_text_contents()
    assert headings[0].startswith("现在开门") and headings[-1].startswith("现在关门")
    # The first station in view is open, whatever closed ones are nearer.
    first = page.locator("#results li.result").first
    assert "open-True" in first.locator(".open").get_attribute("class").split()
    assert live.ids["always"] in ids  # the 24/7 station 400 m away
    shot(page, "01-night-open-first")
    shot(page, "01-night-open-first-full", full_page=True)


def test_ride_minutes_lead_and_the_rider_can_switch_to_walking(phone, live):
    page = phone.page
    page.goto("/nearby")
    locate(page)
    meta = page.locator("#results li.result").first.locator(".meta")
    assert re.search(r"骑车约 \d+ 分钟 · 步行约 \d+ 分钟", meta.inner_text())
    assert "骑车约" in meta.locator(".time.lead").inner_text()
    shot(page, "02-ride-minutes")
    page.get_by_role("link", name="🚶 步行时间").click()
    page.wait_for_url(re.compile(r"mode=walk"))
    meta = page.locator("#results li.result").first.locator(".meta")
    assert "步行约" in meta.locator(".time.lead").inner_text()
    assert page.locator("a.mode.current").inner_text() == "🚶 步行时间"
    # A new search keeps the rider's choice.
    locate(page)
    assert "mode=walk" in page.url


def test_outside_beijing_says_nothing_is_near_and_what_is_covered(browser, live):
    context = _context(browser, live, geolocation={"latitude": 31.2304, "longitude": 121.4737})
    try:
        page = context.new_page()
        page.goto("/nearby")
        locate(page)
        assert result_ids(page) == []
        notice = page.locator(".too-far")
        assert notice.is_visible()
        assert "20 公里内没有驿站" in notice.inner_text() and "北京市 16 个区" in notice.inner_text()
        assert "分钟" not in page.locator("#results").inner_text()
        shot(page, "05-outside-region")
    finally:
        context.close()


def test_rider_errors_are_chinese(phone, live):
    page = phone.page
    page.goto(f"/nearby?lat={HERE['latitude']}&lon={HERE['longitude']}&facility=bogus")
    error = page.locator("p.error[role=alert]")
    assert "不认识的设施“bogus”" in error.inner_text()
    assert not re.search(r"unknown|expected|facility", error.inner_text())
    shot(page, "08-chinese-error")


def test_pick_map_says_when_tiles_fail(phone, live):
    page = phone.page
    page.goto("/nearby")
    page.get_by_role("button", name="在地图上选点").click()
    note = page.locator("#pickmap-note")
    note.wait_for()
    assert "地图底图加载不出来" in note.inner_text()
    shot(page, "10-pick-map-offline")
