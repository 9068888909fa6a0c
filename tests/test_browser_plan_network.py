"""/plan along the streets in a real browser (Debian chromium through Playwright, offline):
on a desktop and on a 390 px phone a planner picks a street network, reads the rule the
figures follow, the lines saying how much the circles overstate, and finds the stations'
service areas along the streets on the map, each around its station, on OSM and Amap tiles."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from stations import storage
from stations.accounts import users
from stations.networks import import_network, networks_dir
from tests.browser_support import (launch, login_form, need_browser, offline, phone_context, serve, shot,
                                   small_targets)
from tests.conftest import make_station
from tests.network_support import helsinki_in_beijing

pytestmark = pytest.mark.browser

STATIONS = [(116.390, 39.925), (116.396, 39.927), (116.401, 39.923)]  # near 景山, in the extract


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    folder = tmp_path_factory.mktemp("plan_network")
    db_path = folder / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    for k, (lon, lat) in enumerate(STATIONS):
        make_station(db, name=f"景山驿站{k}", lon=lon, lat=lat, district="西城区")
    users.add_user(db, "planner", "plan-pass-1", "planner")
    db.conn.close()
    import_network(networks_dir(db_path), helsinki_in_beijing(folder / "city.osm.pbf"), "景山")
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "plan-secret",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url:
        yield SimpleNamespace(url=url)


# Each service area drawn (a GeoJSON feature with a station_id) and whether the station's
# marker point lies inside its polygon's bounds, in the map's own coordinates.
AREAS = """() => {
  const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
  const out = [];
  map.eachLayer(l => {
    if (l.feature && l.feature.properties && l.feature.properties.station_id !== undefined && l.getBounds)
      out.push({id: l.feature.properties.station_id, bounds: l.getBounds().toBBoxString(),
                fill: l.options.fillColor, shown: map.hasLayer(l)});
  });
  return out;
}"""


ZOOM_TO_AREAS = """() => {
  const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
  let box = null;
  map.eachLayer(l => { if (l.feature && l.feature.properties && l.feature.properties.station_id !== undefined
                           && l.getBounds) box = box ? box.extend(l.getBounds()) : L.latLngBounds(l.getBounds()); });
  map.fitBounds(box, {animate: false});
}"""


def _run(page):
    page.goto("/plan")
    page.select_option("select[name=network]", "景山")
    page.select_option("select[name=district]", ["西城区"])
    page.fill("input[name=p]", "2")
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#figures table")
    rule = page.locator("#network-rule").inner_text()
    assert "按道路网络“景山”计算" in rule and "沿道路 1250 米" in rule and "最多 300 米" in rule
    lines = page.locator("#overstate li").all_inner_texts()
    assert any(re.fullmatch(r"西城区：服务圈高估 -?\d+\.\d 个百分点（服务圈 [\d.]+%，按道路 [\d.]+%）", t)
               for t in lines), lines
    assert lines[-1].startswith("全部：")
    assert page.locator("#network-rule").is_visible() and page.locator("#overstate").is_visible()
    assert page.input_value("select[name=network]") == "景山"  # the choice stays on the results


def _areas_on_the_map(frame_page, tiles):
    """The map's layer control names the service areas; one area per station, each drawn
    around its own station (on Amap shifted with the stations to GCJ-02)."""
    frame_page.locator(".leaflet-control-layers").wait_for()
    labels = frame_page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("沿道路 15 分钟可达范围（景山）" in t for t in labels), labels
    areas = frame_page.evaluate(AREAS)
    assert sorted(a["id"] for a in areas) == [1, 2, 3], areas
    assert all(a["fill"] == "#1a9850" and a["shown"] for a in areas)
    from geodata.datum import from_wgs84_array

    for area in areas:
        lon, lat = STATIONS[area["id"] - 1]
        if tiles == "amap":
            glon, glat = from_wgs84_array([lon], [lat], "gcj02")
            lon, lat = float(glon[0]), float(glat[0])
        west, south, east, north = map(float, area["bounds"].split(","))
        assert west < lon < east and south < lat < north, (area, lon, lat)
        # 15 minutes' walk is 1250 m along the streets: the area stays within it (plus the drawing's margin)
        assert (east - west) * 85_000 < 2 * (1250 + 60) and (north - south) * 111_000 < 2 * (1250 + 60)


def test_desktop_planner_sees_the_rule_the_overstatement_and_the_service_areas(live):
    with launch() as browser:
        context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        outside = []
        offline(context, live.url, outside)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login_form(page, "planner", "plan-pass-1")
        _run(page)
        page.locator("#figures").scroll_into_view_if_needed()
        shot(page, "plan-network-desktop-figures")
        page.locator("#plan-map").scroll_into_view_if_needed()
        frame = page.frame_locator("#plan-map")
        frame.locator(".leaflet-control-layers").wait_for()
        map_frame = next(f for f in page.frames if "/plan/map" in f.url)
        _areas_on_the_map(map_frame, "osm")
        page.wait_for_timeout(300)
        shot(page, "plan-network-desktop-map")
        # the same map on Amap's tiles: the areas move with the stations to GCJ-02
        query = page.locator("#plan-map").get_attribute("src").split("?", 1)[1]
        assert "tiles=osm" in query
        page.goto("/plan/map?" + query.replace("tiles=osm", "tiles=amap"))
        _areas_on_the_map(page, "amap")
        shot(page, "plan-network-desktop-map-amap")
        page.evaluate(ZOOM_TO_AREAS)  # close up, for people to look at the areas themselves
        page.wait_for_timeout(500)
        shot(page, "plan-network-desktop-areas-amap")
        assert errors == []
        assert all("tile.openstreetmap.org" in u or "autonavi.com" in u for u in outside), outside
        context.close()


def test_on_a_phone_the_network_choice_and_its_figures_fit(live):
    with launch() as browser:
        context = phone_context(browser, live.url)
        context.set_default_timeout(60_000)
        page = context.new_page()
        login_form(page, "planner", "plan-pass-1")
        _run(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("select[name=network]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 44 - 0.5
        assert small_targets(page) == []
        page.locator("#network-rule").scroll_into_view_if_needed()
        shot(page, "plan-network-phone-rule")
        page.locator("#plan-map").scroll_into_view_if_needed()
        map_frame = next(f for f in page.frames if "/plan/map" in f.url)
        _areas_on_the_map(map_frame, "osm")
        page.wait_for_timeout(300)
        shot(page, "plan-network-phone-map")
        shot(page, "plan-network-phone", full_page=True)
        context.close()
