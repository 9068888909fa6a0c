"""The planner's /plan page in a real browser (Debian chromium through Playwright, offline).

A live server over a temporary database of synthetic stations in 东城区 and 西城区 plus
stations and a demand layer with hostile names; a planner logs in through the form,
runs the figures and the map; nothing may leave the test server.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stations import storage
from stations.accounts import users
from stations.coverage import demand as demand_layers
from stations.registry.demo import generate_stations, load_demo
from tests.browser_support import launch, login_form, need_browser, offline, serve, shot, small_targets, wait_until
from tests.conftest import make_station

pytestmark = pytest.mark.browser

HOSTILE = ["{{7*7}}", "{% raw %}", "{#", "${alert(1)}", "反`引号", "</script><script>alert(1)</script>"]
SPOTS = [(116.345, 39.895), (116.345, 39.935), (116.37, 39.915), (116.40, 39.88), (116.41, 39.92),
         (116.425, 39.90)]
LAYER = "单{{7*7}}${alert(1)}`</script><script>alert(2)</script>"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("plan") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    # synthetic stations away from 东城区/西城区, so the hostile ones there stand alone
    records = [r for r in generate_stations(3000, seed=11, region="beijing")
               if r["district"] not in ("东城区", "西城区", "朝阳区", "丰台区", "海淀区")]
    load_demo(db, records)
    csv = "经度,纬度,权重\n"
    for name, (lon, lat) in zip(HOSTILE, SPOTS):  # each alone covers a demand point
        make_station(db, name=name, lon=lon, lat=lat, district=None)
        csv += f"{lon},{lat},10\n"
    users.add_user(db, "planner", "plan-pass-1", "planner")
    assert demand_layers.import_layer(db, LAYER, csv.encode(), "d.csv").ok
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "plan-secret",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url:
        yield SimpleNamespace(url=url)


@pytest.fixture(scope="module")
def browser(live):
    with launch() as chromium:
        yield chromium


@pytest.fixture
def planner(browser, live):
    context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    outside, dialogs = [], []
    offline(context, live.url, outside)
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login_form(page, "planner", "plan-pass-1")
    yield SimpleNamespace(page=page, outside=outside, dialogs=dialogs)
    context.close()


def test_plan_page_runs_figures_and_map_with_hostile_names_inert(planner):
    page = planner.page
    page.goto("/plan")
    page.select_option("select[name=district]", ["东城区", "西城区"])
    page.fill("input[name=cell_m]", "100")
    page.select_option("select[name=demand]", label=None, value=LAYER)
    page.fill("input[name=p]", "5")
    page.select_option("select[name=kind]", "single")  # each demand point has one station
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#figures table")
    rows = page.locator("#figures tbody tr").all_inner_texts()
    assert rows[0].startswith("东城区") and rows[-1].startswith("全部")
    assert page.locator("#coverage-chart rect").count() == 4  # two bars per district
    critical = page.locator("#criticality tbody").inner_text()
    for name in HOSTILE:
        assert name in critical  # shown exactly as stored
    assert "49" not in critical
    # every demand point already has its station: nothing to suggest, and the page says so
    assert page.locator("#suggestions tbody tr").count() == 0
    assert "没有未覆盖的需求：不需要新站点" in page.locator("#suggestions").inner_text()
    frame = page.frame_locator("#plan-map")
    frame.locator(".leaflet-control-layers").wait_for()
    labels = frame.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("站点（聚合）" in t for t in labels) and any("服务圈" in t for t in labels)
    gap_label = next(t for t in labels if "需求缺口" in t)
    assert LAYER in gap_label  # the layer name, literally
    frame.locator(".marker-cluster, path.leaflet-interactive").first.wait_for()
    assert frame.locator("#plan-legend").inner_text().startswith("需求覆盖率")  # a layer is chosen (item 5)
    legend, scale = frame.locator("#plan-legend").bounding_box(), frame.locator(".leaflet-control-scale").bounding_box()
    assert legend["y"] + legend["height"] <= scale["y"]  # the scale bar does not hide the legend's last step
    assert planner.dialogs == []
    assert all("tile.openstreetmap.org" in u for u in planner.outside), planner.outside  # tiles only


DISTRICT_FILLS = """() => {
  const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
  const out = {};
  map.eachLayer(l => { if (l.feature && l.feature.properties && l.feature.properties.stations !== undefined)
    out[l.feature.properties.name] = l.options.fillColor; });
  return out;
}"""


def test_with_a_demand_layer_the_map_colours_districts_by_demand_covered(planner):
    """Every demand point has its station: both districts are drawn as fully covered (the
    top step) though little of their area is; without the layer, the lowest step."""
    from urllib.parse import quote

    from stations.coverage.maps import LEGEND_STEPS

    page = planner.page
    base = "/plan/map?district=东城区&district=西城区&cell_m=200&p=0"
    page.goto(base + "&demand=" + quote(LAYER, safe=""))
    page.locator("#plan-legend").wait_for()
    wait_until(page, "Object.keys(window).some(k => k.startsWith('map_'))")
    assert page.evaluate(DISTRICT_FILLS) == {"东城区": LEGEND_STEPS[-1][1], "西城区": LEGEND_STEPS[-1][1]}
    assert page.locator("#plan-legend").inner_text().startswith("需求覆盖率（按区，")
    point = page.evaluate("""() => {
      const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
      let at = null;
      map.eachLayer(l => { if (!at && l.feature && l.feature.properties.name === "东城区")
        at = map.latLngToContainerPoint(L.latLng(39.90, 116.42)); });
      const box = map.getContainer().getBoundingClientRect();
      return {x: box.left + at.x, y: box.top + at.y};
    }""")
    page.mouse.move(point["x"], point["y"])
    page.mouse.move(point["x"] + 2, point["y"] + 2)
    tooltip = page.locator(".leaflet-tooltip").inner_text()
    assert "需求覆盖率" in tooltip and "100.0%" in tooltip, tooltip
    shot(page, "plan-map-demand-colours")
    page.goto(base)
    page.locator("#plan-legend").wait_for()
    assert page.evaluate(DISTRICT_FILLS) == {"东城区": LEGEND_STEPS[0][1], "西城区": LEGEND_STEPS[0][1]}
    shot(page, "plan-map-area-colours")


def test_bad_parameters_are_explained_on_the_page(planner):
    page = planner.page
    page.goto("/plan?run=1&minutes=0")
    assert page.locator("#plan-error").inner_text() == "分钟数 0 超出范围 1–120 分钟"


def test_plan_page_fits_a_phone(browser, live):
    context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    offline(context, live.url, [])
    page = context.new_page()
    login_form(page, "planner", "plan-pass-1")
    page.goto("/plan?run=1&district=东城区&district=西城区&p=2&close=1&add=116.40,39.91")
    page.wait_for_selector("#whatif table")
    # wide tables scroll inside their own box; the page itself never scrolls sideways
    wide = page.evaluate("""[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 6).map(e => e.tagName + "." + e.className + "#" + e.id + " " + Math.round(e.getBoundingClientRect().right))""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")  # every setting shown
    small = small_targets(page)
    assert small == [], "\n".join(small)  # a finger's size, as on the rider and organiser pages
    shot(page, "plan-phone-form", full_page=True)
    # the bar chart keeps legible text: its box scrolls rather than the chart shrinking to 390 px
    assert page.locator("#coverage-chart").bounding_box()["width"] >= 720
    cell = page.locator("#figures tbody td").first.bounding_box()  # 东城区 on one line, not one character a line
    assert cell["height"] < 2 * 24, cell
    page.locator("#coverage-chart").scroll_into_view_if_needed()
    shot(page, "plan-phone-chart")
    context.close()
