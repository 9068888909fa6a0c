"""The print layout of /plan in a real browser on a desktop (issue 18, item 10): what prints
(title, scenario, map with legend, scale and north arrow, figures, date, 合成数据) and what
does not (the site's header, buttons, map controls); Chromium's own PDF of it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.browser_support import shot, wait_until
from tests.test_browser_plan import LAYER, browser, live, planner  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_the_print_layout_prints_the_map_with_its_marks_and_saves_as_pdf(planner, tmp_path):
    page = planner.page
    page.goto("/plan/print?district=东城区&district=西城区&cell_m=200&p=2&close=1&title=" + quote("东西城服务圈")
              + "&demand=" + quote(LAYER, safe=""))
    assert page.locator("#print-title").inner_text() == "东西城服务圈"
    assert page.locator("#print-scenario").inner_text().startswith("东城区、西城区 · 步行 15 分钟")
    assert "合成数据" in page.locator("#print-synthetic").inner_text()  # the demo stations are synthetic
    frame = page.frame_locator("#print-map")
    frame.locator("#plan-legend").wait_for()
    frame.locator(".leaflet-control-scale").wait_for()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("#plan-print-button").is_visible()
    for mark in ("#plan-legend", ".leaflet-control-scale", "#plan-north"):
        assert frame.locator(mark).is_visible(), f"{mark} does not print"
    assert not frame.locator(".leaflet-control-zoom").is_visible()
    assert not frame.locator(".leaflet-control-layers").is_visible()
    legend, north = frame.locator("#plan-legend").bounding_box(), frame.locator("#plan-north").bounding_box()
    assert legend["height"] > 40 and north["height"] > 20
    sheet = page.locator("#plan-print").bounding_box()
    assert sheet["width"] > 600
    shot(page, "plan-print-layout", full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    (tmp_path / "plan.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    assert planner.dialogs == []


def test_two_saved_scenarios_side_by_side(planner):
    page = planner.page
    for name, mode in (("步行15分钟", "walk"), ("电动车15分钟", "ebike")):
        page.goto(f"/plan?district=东城区&district=西城区&cell_m=200&p=1&mode={mode}&run=1")
        page.fill("input[name=scenario_name]", name)
        page.click("#scenario-form button[type=submit]")
        page.wait_for_selector("#figures table")
        assert f"已保存方案“{name}”" in page.locator(".flash").inner_text()
    page.select_option("#compare-form select[name=a]", label="步行15分钟")
    page.select_option("#compare-form select[name=b]", label="电动车15分钟")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#compare-table")
    assert page.locator("#compare-a").inner_text() == "A：步行15分钟"
    maps = page.locator(".compare-map")
    assert maps.count() == 2
    first, second = maps.nth(0).bounding_box(), maps.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"] - 1  # side by side
    for i in range(2):
        page.frame_locator(".compare-map").nth(i).locator("#plan-legend").wait_for()
    total = page.locator("#compare-table tr.total").inner_text()
    assert "个百分点" in total and "+" in total
    shot(page, "plan-compare", full_page=True)


def test_a_station_clicked_on_the_map_joins_the_what_if(planner):
    """Click-to-close: a station's popup on the /plan map offers 假设关闭此站; it lands in the
    what-if's 关闭站点 field, and the next 计算 shows the comparison."""
    page = planner.page
    page.goto("/plan?district=东城区&district=西城区&cell_m=200&p=0&run=1")
    frame = page.frame_locator("#plan-map")
    frame.locator("#plan-legend").wait_for()
    map_frame = next(f for f in page.frames if "/plan/map" in f.url)
    wait_until(map_frame, "Object.keys(window).some(k => k.endsWith('_layers'))")
    station = map_frame.evaluate("""() => {
      const layers = window[Object.keys(window).find(k => k.endsWith("_layers"))];
      const marker = layers.cluster.getLayers().find(m => {
        const p = m.getLatLng(); return p.lng > 116.3 && p.lng < 116.45 && p.lat > 39.87 && p.lat < 39.95; });
      marker.fire("click");
      return marker.getLatLng();
    }""")
    assert station
    button = frame.locator(".plan-close-station")
    label = button.inner_text()
    station_id = int(label.split("#")[1].rstrip("）"))
    button.click()
    wait_until(page, "document.querySelector('input[name=close]').value !== ''")
    assert page.locator("input[name=close]").input_value() == str(station_id)
    assert f"已把站点 #{station_id} 加入“关闭站点”" in page.locator("#plan-status").inner_text()
    shot(page, "plan-click-to-close")
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#whatif table")
    assert "关闭 1 个站点" in page.locator("#whatif").inner_text()


def test_scenarios_and_the_print_page_fit_a_phone(browser, live):
    from tests.browser_support import login_form, offline, small_targets

    context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    offline(context, live.url, [])
    page = context.new_page()
    login_form(page, "planner", "plan-pass-1")
    for name in ("手机方案甲", "手机方案乙"):
        page.goto("/plan?district=东城区&cell_m=200&p=0")
        page.fill("input[name=scenario_name]", name)
        page.click("#scenario-form button[type=submit]")
        page.wait_for_load_state()
    page.goto("/plan#scenarios")
    page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    small = small_targets(page)
    assert small == [], "\n".join(small)
    page.locator("#scenarios").scroll_into_view_if_needed()
    shot(page, "plan-phone-scenarios")
    page.click("#compare-form button[type=submit]")
    page.wait_for_selector("#compare-table")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto("/plan/print?district=东城区&cell_m=200&p=0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()
