"""The rider's other pages and the organiser's on a phone, in a real browser (Debian's
headless chromium through Playwright): the station page (its map, the hours as typed,
feedback, a closed station), the directory, tap targets everywhere, organiser pages.

The rider site (tests/rider_browser_support.py): one live server over a temporary database
of 2,000 synthetic Beijing stations plus a few hand-made ones, and one chromium for the
whole module.  Every request that leaves the test server is aborted, so the tests run offline.
"""

from __future__ import annotations

import re

import pytest

from tests import rider_browser_support
from tests.browser_support import login_form, shot, small_targets
from tests.rider_browser_support import ORGANISER_PASSWORD, locate

pytestmark = pytest.mark.browser

# The rider site's fixtures (module-scoped: this file starts its own server and chromium).
live, browser, phone = rider_browser_support.live, rider_browser_support.browser, rider_browser_support.phone


def test_feedback_thanks_where_the_rider_is_looking(phone, live):
    page = phone.page
    station = live.ids["always"]
    page.goto(f"/stations/{station}")
    page.locator("#feedback").scroll_into_view_if_needed()
    page.locator("label.check", has_text="4 星").click()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(rf"/stations/{station}#feedback"))
    thanks = page.locator(".thanks")
    thanks.wait_for()
    box = thanks.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= 844, box  # inside the viewport
    assert "谢谢您的反馈" in thanks.inner_text()
    assert page.locator("#feedback form").is_hidden()  # folded: no second submission by mistake
    shot(page, "07-feedback-thanks")


def test_every_tap_target_is_at_least_44_px(phone, live):
    page = phone.page
    page.goto("/nearby")
    page.locator("details summary").click()  # open 更多设施 too
    assert small_targets(page) == []
    shot(page, "09-finder", full_page=True)
    locate(page)
    assert small_targets(page) == []
    page.goto("/stations")
    assert small_targets(page) == []
    shot(page, "09-directory", full_page=True)
    page.goto(f"/stations/{live.ids['always']}")
    assert small_targets(page) == []
    shot(page, "09-station", full_page=True)
    page.goto("/nearby?district=东城区#results")  # its 查看东城区全部驿站 link too
    assert small_targets(page) == []
    page.goto("/login")
    assert small_targets(page) == []


def test_organiser_pages_have_44_px_targets_and_no_sideways_scroll(phone, live):
    page = phone.page
    login_form(page, "org", ORGANISER_PASSWORD)
    sid = live.ids["always"]
    for path in ("/admin", "/admin/stations", "/admin/stations?status=pending", "/admin/stations/new",
                 f"/admin/stations/{sid}", f"/admin/stations/{sid}/edit", "/admin/import",
                 "/admin/export", "/admin/flags"):
        page.goto(path)
        assert small_targets(page) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto("/plan")  # its candidate-file fieldset once widened the page to 402 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto("/admin/stations")
    lines = page.evaluate("""() => { const r = document.createRange();
        r.selectNodeContents(document.querySelector('.station-table tbody td.nowrap + td'));
        return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }""")
    assert lines == 1  # 正常开放 on one line, not two characters a line
    shot(page, "16-admin-station-list")
    page.goto("/admin/stations/new")
    zoom = page.locator("#coordpicker .leaflet-control-zoom a").first
    zoom.wait_for()
    box = zoom.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    assert zoom.evaluate("e => getComputedStyle(e).lineHeight") == "44px"  # the + in the middle
    assert page.title() == "新建站点 · 驿站 Yizhan"
    shot(page, "16-new-station-picker")


def test_station_map_is_metric_closed_until_tapped_and_says_when_tiles_fail(phone, live):
    page = phone.page
    page.goto(f"/stations/{live.ids['always']}")
    frame_element = page.locator("iframe.smallmap")
    frame_element.scroll_into_view_if_needed()
    frame = page.frame_locator("iframe.smallmap")
    frame.locator(".leaflet-control-scale-line").first.wait_for()
    scales = frame.locator(".leaflet-control-scale-line").all_text_contents()
    assert len(scales) == 1 and re.fullmatch(r"\d+ (m|km)", scales[0].strip()), scales
    assert frame.locator(".leaflet-tooltip").count() == 0  # closed until the marker is tapped
    zoom = frame.locator(".leaflet-control-zoom a").first.bounding_box()
    assert zoom["width"] >= 44 and zoom["height"] >= 44  # a finger's size here too
    # Every tile request is aborted here (offline): the rider is told, not shown a grey box.
    frame.locator(".tiles-failed").wait_for()
    assert "地图底图加载不出来" in frame.locator(".tiles-failed").inner_text()
    prefix = frame.locator(".leaflet-control-attribution").inner_text()
    assert prefix.startswith("Leaflet") and frame.locator(".leaflet-control-attribution svg").count() == 0
    shot(page, "10-station-map-offline")
    box = frame.locator(".leaflet-container").bounding_box()  # the marker is in the middle
    frame.locator(".leaflet-container").click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    frame.locator(".leaflet-tooltip").wait_for()
    shot(page, "11-station-map-tapped")


def test_station_map_says_so_when_tiles_hang(phone, live):
    """A blocked tile host often never answers: after a few seconds without a tile the rider
    is told, as when tiles fail outright."""
    held = []
    phone.context.route(re.compile(r"autonavi|openstreetmap"), lambda route: held.append(route))
    page = phone.page
    # held tiles may keep the page's load event from ever firing (the map's images never
    # finish): the page is there once its document is
    page.goto(f"/stations/{live.ids['always']}", wait_until="domcontentloaded")
    page.locator("iframe.smallmap").scroll_into_view_if_needed()
    frame = page.frame_locator("iframe.smallmap")
    frame.locator(".tiles-failed").wait_for(timeout=12_000)
    assert held and "地图底图加载不出来" in frame.locator(".tiles-failed").inner_text()


def test_no_engineer_words_and_a_closed_station_page(phone, live):
    page = phone.page
    page.goto(f"/stations/{live.ids['always']}")
    assert "WGS" not in page.locator("body").inner_text()
    page.goto(f"/stations/{live.ids['closed_here']}")
    body = page.locator("main").inner_text().replace("已关闭的驿站", "")  # its name says it too
    assert body.count("已关闭") == 1 and "导航" not in body and "这里好用吗" not in body
    assert page.get_by_role("link", name="找附近开门的驿站").is_visible()
    shot(page, "13-closed-station")


def test_no_404_favicon_last_page_clamped_and_footer_contrast(phone, live):
    page = phone.page
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/stations?page=99999")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert missing == []
    count = page.locator("p.count").inner_text()
    match = re.search(r"第 (\d+) / (\d+) 页", count)
    assert match and match.group(1) == match.group(2), count
    ratio = page.evaluate("""() => {
        const lum = c => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(v => {
            v = v / 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const fg = lum(getComputedStyle(document.querySelector('footer.foot')).color);
        const bg = lum(getComputedStyle(document.body).backgroundColor);
        return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05); }""")
    assert ratio >= 4.5, ratio


def test_station_page_shows_the_hours_as_typed_and_never_the_note(phone, live):
    page = phone.page
    page.goto(f"/stations/{live.ids['typed']}")
    hours = page.locator("dt:text-is('开放时间') + dd")
    assert hours.inner_text() == "周一至周五 8:00-20:00，周末休息" and hours.is_visible()
    box = hours.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    body = page.content()
    assert "王师傅" not in body and "13911112222" not in body and "Mo-Fr" not in body
    shot(page, "15-typed-hours")
