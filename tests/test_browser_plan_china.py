"""The coverage map for the whole-China region loads stations by viewport from the bbox API
(Debian chromium through Playwright, offline): nothing of the stations is in the page, the
visible box is asked for when zoomed in to city level, only active stations are drawn, and
panning to another city asks for that box."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from stations import storage
from stations.accounts import users
from tests.browser_support import launch, login_form, need_browser, serve, wait_until
from tests.conftest import make_station

pytestmark = pytest.mark.browser

BEIJING = [("京甲站", 116.3975, 39.9087), ("京乙站", 116.4100, 39.9150), ("京丙站", 116.3900, 39.9000)]
CLOSED = ("京关闭站", 116.4000, 39.9120)
SHANGHAI = ("沪甲站", 121.4737, 31.2304)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("plan_china") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    for name, lon, lat in BEIJING:
        make_station(db, name=name, lon=lon, lat=lat, district=None)
    make_station(db, name=CLOSED[0], lon=CLOSED[1], lat=CLOSED[2], district=None, status="closed")
    make_station(db, name=SHANGHAI[0], lon=SHANGHAI[1], lat=SHANGHAI[2], district=None, address="上海市黄浦区")
    users.add_user(db, "planner", "plan-pass-1", "planner")
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "plan-secret",
                      "YIZHAN_TILES": "osm", "YIZHAN_REGION": "china"})
    with serve(app) as url:
        yield SimpleNamespace(url=url)


@pytest.fixture
def planner(live):
    with launch() as browser:
        context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 1100, "height": 800})
        context.set_default_timeout(20_000)
        outside, asked = [], []

        def offline(route):
            url = route.request.url
            if url.startswith(live.url + "/"):
                if "/api/v1/stations?" in url:
                    asked.append(url)
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", offline)
        page = context.new_page()
        login_form(page, "planner", "plan-pass-1")
        yield SimpleNamespace(page=page, outside=outside, asked=asked)
        context.close()


def drawn(page) -> int:
    """Markers in the station cluster layer of the map page."""
    return page.evaluate("""() => {
        const key = Object.keys(window).find(k => k.endsWith('_layers') && window[k].cluster);
        return key ? window[key].cluster.getLayers().length : -1;
    }""")


def move(page, lat, lon, zoom):
    page.evaluate("""([lat, lon, zoom]) => {
        const key = Object.keys(window).find(k => /^map_/.test(k) && window[k].setView);
        window[key].setView([lat, lon], zoom, {animate: false});
    }""", [lat, lon, zoom])


def bbox_of(url) -> list[float]:
    return [float(v) for v in parse_qs(urlsplit(url).query)["bbox"][0].split(",")]


def test_china_map_loads_active_stations_by_viewport(planner):
    page = planner.page
    response = page.goto("/plan/map?district=北京市&cell_m=2000&p=0&minutes=15")
    assert response.status == 200
    html = page.content()
    for name, _, _ in BEIJING + [SHANGHAI]:
        assert name not in html  # nothing of the stations inlined: no names, no point arrays
    assert '"lat0"' not in html and "bbox=" in html
    wait_until(page, "() => Object.keys(window).some(k => k.endsWith('_layers'))")
    # the whole of Beijing is below city zoom: nothing asked, nothing drawn
    page.wait_for_timeout(300)
    assert planner.asked == [] and drawn(page) == 0

    move(page, 39.9087, 116.3975, 14)
    wait_until(page, """() => {
        const key = Object.keys(window).find(k => k.endsWith('_layers') && window[k].cluster);
        return window[key].cluster.getLayers().length === 3;
    }""")
    assert len(planner.asked) >= 1
    url = planner.asked[-1]
    query = parse_qs(urlsplit(url).query)
    assert query["datum"] == ["wgs84"] and query["limit"] == ["1000"]
    minlon, minlat, maxlon, maxlat = bbox_of(url)
    assert minlon < 116.3975 < maxlon and minlat < 39.9087 < maxlat
    assert maxlon - minlon < 0.5, "asked for more than the visible box"
    assert drawn(page) == 3  # the closed station is in the box but not drawn
    assert page.evaluate("""() => {
        const map = window[Object.keys(window).find(k => /^map_/.test(k) && window[k].setView)];
        const key = Object.keys(window).find(k => k.endsWith('_layers') && window[k].cluster);
        return map.hasLayer(window[key].cluster);
    }"""), "the station layer is not on the map"

    move(page, 31.2304, 121.4737, 14)  # to Shanghai: its box is asked for and its station added
    wait_until(page, """() => {
        const key = Object.keys(window).find(k => k.endsWith('_layers') && window[k].cluster);
        return window[key].cluster.getLayers().length === 4;
    }""")
    minlon, minlat, maxlon, maxlat = bbox_of(planner.asked[-1])
    assert minlon < 121.4737 < maxlon and minlat < 31.2304 < maxlat

    move(page, 39.9087, 116.3975, 14)  # back: nothing drawn twice
    page.wait_for_timeout(500)
    assert drawn(page) == 4
    assert all(re.search(r"tile\.openstreetmap\.org", u) for u in planner.outside), planner.outside
