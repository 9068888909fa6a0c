"""The rider's /nearby page in a real browser: Debian's headless chromium through Playwright.

One live server (werkzeug, in a thread) over a temporary database of 2,000 synthetic
Beijing stations plus a few hand-made ones, and one chromium for the whole module.
Every request that leaves the test server is aborted, so the tests run offline.

Run them with ``./scripts/test`` (it installs Debian's chromium when missing).
"""

from __future__ import annotations

import gzip
import math
import os
import re
import threading
import urllib.request
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urljoin, urlparse

import pytest

from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02
from stations import storage
from stations.demo import generate_stations, load_demo
from stations.nearest import brute_force_nearest
from stations.records import FACILITIES
from stations.riders import district_origin
from stations.storage import TZ
from tests.conftest import make_station

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Where the rider stands (WGS-84): near Tiananmen, and a second spot in 海淀区.
HERE = {"latitude": 39.9087, "longitude": 116.3975}
HOSTILE_SPOT = {"latitude": 39.9600, "longitude": 116.3300}
HOSTILE_NAME = "<img src=x onerror=alert(1)>${alert(1)}"
PAGE_BUDGET_BYTES = 60 * 1000  # "at most 60 KB compressed" (read conservatively as 60,000)


def _need_browser():
    """Fail under CI, skip elsewhere, when the browser or Playwright is missing."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (Debian package 'chromium')"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {problem}; CI must provide it "
                        "(./scripts/test installs chromium)", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}; run ./scripts/test, which installs it")


# --- fixtures -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app over a filled temporary database, served by werkzeug in a thread."""
    _need_browser()
    from werkzeug.serving import make_server

    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("browser") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    load_demo(db, generate_stations(2000, seed=7, region="beijing"))
    lat, lon = HERE["latitude"], HERE["longitude"]
    hand = {
        # Right where the rider stands, but not usable: the default filter must skip them.
        "closed_here": make_station(db, name="已关闭的驿站", lon=lon, lat=lat, status="closed"),
        "paused_here": make_station(db, name="暂停开放的驿站", lon=lon + 0.00005, lat=lat,
                                    status="temporarily_closed"),
        "pending_here": make_station(db, name="待审核的驿站", lon=lon, lat=lat + 0.00005,
                                     status="pending"),
        # An open-all-day station with a microwave 400 m east, for the filter test.
        "always": make_station(db, name="全天驿站", lon=lon + 0.0047, lat=lat, hours="24/7",
                               facilities=["water", "microwave", "charging"]),
        # The hostile name, 3 m from the second spot, so it is the nearest there.
        "hostile": make_station(db, name=HOSTILE_NAME, address="<b>海淀区</b>某路1号",
                                lon=HOSTILE_SPOT["longitude"],
                                lat=HOSTILE_SPOT["latitude"] + 0.00003, district="海淀区"),
    }
    stations = list(storage.iter_stations(db))
    db.conn.close()

    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                      "YIZHAN_SECRET_KEY": "browser-test-secret", "YIZHAN_REGION": "beijing",
                      "YIZHAN_TILES": "osm"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="yizhan-live", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", db_path=db_path,
                              stations=stations, by_id={s["id"]: s for s in stations}, ids=hand)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser, live, *, geolocation=HERE, **options):
    settings = dict(locale="zh-CN", timezone_id="Asia/Shanghai",
                    viewport={"width": 390, "height": 844}, device_scale_factor=2,
                    is_mobile=True, has_touch=True, base_url=live.url)
    if geolocation is not None:
        settings.update(geolocation=dict(geolocation), permissions=["geolocation"])
    settings.update(options)
    context = browser.new_context(**settings)
    context.set_default_timeout(15_000)

    def offline(route):  # nothing but the test server: no tiles, no CDNs
        if route.request.url.startswith(live.url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", offline)
    return context


@pytest.fixture
def phone(browser, live):
    """A phone at HERE that has allowed geolocation; yields (context, page, requests, dialogs)."""
    context = _context(browser, live)
    page = context.new_page()
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield SimpleNamespace(context=context, page=page, requests=requests, dialogs=dialogs)
    context.close()


# --- helpers ------------------------------------------------------------------------

def locate(page):
    """Press the big button and wait for the server-rendered list."""
    page.get_by_role("button", name="找最近的驿站").click()
    page.wait_for_url(re.compile(r"/nearby\?.*lat="))
    page.wait_for_selector("#results")


def result_ids(page) -> list[int]:
    return [int(v) for v in page.locator("#results > li.result").evaluate_all(
        "els => els.map(e => e.dataset.stationId)")]


def expected(live, lat, lon, k=10, **filters) -> list[tuple[dict, float]]:
    """Brute force over the stored stations, as the page asks by default (active, k=10)."""
    return brute_force_nearest(live.stations, lon, lat, k=k, status="active", **filters)


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

    truth = expected(live, HERE["latitude"], HERE["longitude"])
    ids = result_ids(page)
    assert ids == [s["id"] for s, _ in truth]  # the whole list, in order
    best, metres = truth[0]
    assert ids[0] == best["id"]
    assert not {live.ids["closed_here"], live.ids["paused_here"], live.ids["pending_here"]} & set(ids)

    first = page.locator("#results > li.result").first
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

    shot = os.environ.get("YIZHAN_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=False)


def test_without_javascript_the_list_is_server_rendered(browser, live):
    context = _context(browser, live, geolocation=None, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"/nearby?lat={HERE['latitude']}&lon={HERE['longitude']}")
        page.wait_for_selector("#results")
        truth = expected(live, HERE["latitude"], HERE["longitude"])
        ids = result_ids(page)
        assert ids and ids[0] == truth[0][0]["id"]
        assert ids == [s["id"] for s, _ in truth]
    finally:
        context.close()


def test_district_fallback_lists_stations_in_or_near_the_district(phone, live):
    import shapely

    from geodata.districts import load_districts

    district = "海淀区"
    page = phone.page
    page.goto("/nearby")
    page.select_option("select[name=district]", district)
    page.get_by_role("button", name="查找", exact=True).click()
    page.wait_for_url(re.compile(r"/nearby\?.*district="))
    page.wait_for_selector("#results")
    ids = result_ids(page)
    assert len(ids) == 10

    olon, olat = district_origin("beijing", district)
    assert ids == [s["id"] for s, _ in expected(live, olat, olon)]
    frames = load_districts("beijing")
    shape = frames[frames["name"] == district].geometry.iloc[0]
    scale = math.cos(math.radians(olat))  # a local equirectangular view, metres ≈ degrees × 111 km
    local = shapely.affinity.scale(shape, xfact=scale, yfact=1.0, origin=(0, 0))
    inside = 0
    for station_id in ids:
        s = live.by_id[station_id]
        point = shapely.Point(s["lon"] * scale, s["lat"])
        km = local.distance(point) * 111.2
        assert s["district"] == district or km < 5, (s["name"], s["district"], km)
        inside += s["district"] == district
    assert inside >= len(ids) // 2


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
    for item in page.locator("#results > li.result").all():
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
        first = page.locator("#results > li.result").first
        assert int(first.get_attribute("data-station-id")) == live.ids["hostile"]
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
    assert any(u.endswith(".css") for u in assets), "the page links its stylesheet"
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
    page.wait_for_function("() => window.L && document.querySelector('#pickmap.leaflet-container')")
    page.wait_for_function("() => document.getElementById('locate-status').textContent.length > 0")

    box = page.locator("#pickmap").bounding_box()
    page.locator("#pickmap").click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    page.wait_for_url(re.compile(r"/nearby\?.*lat="))
    page.wait_for_selector("#results")
    query = _query(page.url)
    lat, lon = float(query["lat"]), float(query["lon"])
    # The map opens centred on Tiananmen: a tap in the middle lands within a few hundred metres.
    assert (lat, lon) == pytest.approx((39.9087, 116.3975), abs=0.01)
    assert query.get("datum") == "wgs84"  # OSM tiles are WGS-84
    ids = result_ids(page)
    assert ids and ids[0] == expected(live, lat, lon, k=1)[0][0]["id"]
