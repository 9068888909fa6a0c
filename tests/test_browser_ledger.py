"""The ledger in a real browser (Debian chromium through Playwright) on a 390 px phone:
a union's keeper fills the day's form and sees it saved and its history; a rider who
scanned the QR code taps 我在这里歇脚了 (with and without JavaScript) and sees the thanks
where they are looking; the report's SVG charts fit the screen.

Screenshots go to screenshots/ (gitignored) for people to look at.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from stations import ledger, storage
from stations.accounts import users
from tests.browser_support import (
    collect_errors,
    launch,
    need_browser,
    no_sideways_scroll,
    phone_context,
    serve,
)
from tests.browser_support import shot as save_shot
from tests.conftest import make_station

pytestmark = pytest.mark.browser
PASSWORD = "ledger-pass-12"
UNION = "海淀区总工会"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("ledger") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    users.add_user(db, "hd", PASSWORD, "union", UNION, create_union=True)
    users.add_user(db, "plan", PASSWORD, "planner")
    # open around the clock: riders check in whatever hour the suite runs (no check-in when 已打烊)
    mine = make_station(db, name="中关村骑手暖心驿站", district="海淀区", host_union=UNION, lon=116.316, lat=39.984,
                        hours="24/7")
    # a station name as long as real ones are: the meeting form's station list must still fit a phone
    make_station(db, name=LONG_NAME, district="海淀区", host_union=UNION, lon=116.35, lat=39.99)
    other = make_station(db, name="国贸职工之家", district="朝阳区", host_union="朝阳区总工会", lon=116.46, lat=39.91,
                         hours="24/7")
    admin = {"username": "seed", "role": "admin", "union_name": None}
    for n in range(2, 40):
        day = (ledger.today() - timedelta(days=n)).isoformat()
        ledger.save_entry(db, mine, {"date": day, "v_rider": str(10 + n % 7), "v_courier": "4", "s_water": "9"}, admin)
        ledger.save_entry(db, other, {"date": day, "v_sanitation": str(3 + n % 5), "s_meal_heating": "2"}, admin)
    met = ledger.today() - timedelta(days=3)
    ledger.add_meeting(db, {"date": met.isoformat(), "kind": "worker",
                            "station_id": str(mine), "attendees": "40", "new_members": "11"}, admin)
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "browser-ledger",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url:
        app.config["YIZHAN_TRUSTED_HOSTS"] = url.removeprefix("http://")  # before any request
        yield SimpleNamespace(url=url, db_path=db_path, mine=mine, other=other, met=met)


LONG_NAME = "中国石化加油站海淀区学院路北段户外劳动者服务站（职工暖心驿站·24小时）"


@pytest.fixture(scope="module")
def browser(live):
    with launch() as chromium:
        yield chromium


def phone(browser, live, js=True):
    context = phone_context(browser, live.url, java_script_enabled=js)
    return context, collect_errors(context.new_page())


def shot(page, name):
    save_shot(page, f"ledger-{name}", full_page=True)


def in_view(page, selector):
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= 844


def sign_in(page, username):
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/admin"))


def small_targets(page, scope):
    return page.evaluate("""(scope) => [...document.querySelectorAll(scope + ' input:not([type=hidden]), '
        + scope + ' button, ' + scope + ' select, ' + scope + ' a')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.name || e.textContent.trim(), e.getBoundingClientRect()])
        .filter(([n, r]) => r.height < 44 || r.width < 44).map(([n, r]) => n + ' ' + Math.round(r.width)
        + 'x' + Math.round(r.height))""", scope)


def test_a_union_keeper_fills_the_days_ledger_on_a_phone(browser, live):
    context, page = phone(browser, live)
    sign_in(page, "hd")
    page.click("text=记服务台账")
    assert "国贸职工之家" not in page.inner_text("main")  # another union's station is not offered
    page.click("text=中关村骑手暖心驿站")
    page.wait_for_selector("form.ledger-form")
    assert small_targets(page, "form.ledger-form") == []
    page.fill("input[name=v_rider]", "23")
    page.fill("input[name=v_courier]", "6")
    page.fill("input[name=s_water]", "18")
    page.fill("input[name=s_charging]", "7")
    page.fill("textarea[name=note]", "降温，来热饭的多")
    shot(page, "1-form")
    assert no_sideways_scroll(page)
    page.click("form.ledger-form button[type=submit]")
    page.wait_for_selector("#saved .thanks")
    assert f"已保存 {ledger.today().isoformat()} 的台账" in page.inner_text("#saved")
    assert in_view(page, "#saved .thanks")  # the confirmation is where the keeper looks
    assert page.input_value("input[name=v_rider]") == "23"
    page.fill("input[name=v_rider]", "25")
    page.click("form.ledger-form button[type=submit]")
    page.wait_for_selector("#saved .thanks")
    assert "原记录已存入历史" in page.inner_text("#saved")
    assert "外卖骑手 23" in page.inner_text(".history")
    shot(page, "2-saved-history")
    page.fill("input[name=v_rider]", "-4")
    page.evaluate("document.querySelector('form.ledger-form').noValidate = true")
    page.click("form.ledger-form button[type=submit]")
    assert "不能是负数" in page.inner_text("form.ledger-form")
    assert no_sideways_scroll(page)
    assert page.errors == []
    context.close()


def test_a_union_records_a_meeting_on_a_phone(browser, live):
    context, page = phone(browser, live)
    sign_in(page, "hd")
    page.goto("/ledger/meetings")
    if not page.locator("details").first.evaluate("d => d.open"):
        page.click("details summary")
    assert no_sideways_scroll(page)  # the station list holds a 40-character name
    assert small_targets(page, "details form") == []
    page.check("input[name=kind][value=enterprise]")
    page.select_option("select[name=station_id]", label=f"{LONG_NAME}（海淀区）")
    page.fill("input[name=attendees]", "18")
    page.fill("input[name=new_unions]", "2")
    page.fill("textarea[name=note]", "快递、外卖企业座谈")
    page.click("details form button[type=submit]")
    error = page.locator("label.has-error .error")  # no company came: not saved, all kept
    assert error.inner_text() == "企业沟通会至少要有 1 家企业到会"
    assert in_view(page, "details form p.error[role=alert]") and in_view(page, "label.has-error")
    assert page.input_value("input[name=attendees]") == "18" and page.input_value("textarea[name=note]") == "快递、外卖企业座谈"
    save_shot(page, "ledger-5-meeting-error")  # what the keeper sees: the first screen
    page.fill("input[name=companies]", "7")
    page.click("details form button[type=submit]")
    page.wait_for_selector("#saved .thanks")
    assert "企业沟通会" in page.inner_text("#saved") and "参加 18 人，企业 7 家" in page.inner_text("main")
    assert no_sideways_scroll(page)
    assert page.errors == []
    context.close()


def test_a_large_meeting_asks_for_a_confirmation_on_a_phone(browser, live):
    """Counts above a meeting's usual size: the form asks for 我确认人数无误 where the keeper
    is looking, with every figure kept; another union's district is refused on the form."""
    context, page = phone(browser, live)
    sign_in(page, "hd")
    page.goto("/ledger/meetings")
    if not page.locator("details").first.evaluate("d => d.open"):
        page.click("details summary")
    assert "本工会可记录的区：海淀区" in page.inner_text("details form")
    # a year before the report test's: the meeting saved here stays out of its year
    page.fill("input[name=date]", f"{live.met.year - 1}-06-15")
    page.check("input[name=kind][value=worker]")
    page.fill("input[name=place]", "学院路快递集散地")
    page.select_option("select[name=district]", "海淀区")
    page.fill("input[name=attendees]", "650")
    page.fill("input[name=new_members]", "90")
    page.click("details form button[type=submit]")
    box = page.locator(".confirm-large")
    assert "参加人数 650 人（一场通常不超过 500 人）" in box.inner_text() and "我确认人数无误" in box.inner_text()
    assert in_view(page, "details form p.error[role=alert]")
    assert page.input_value("input[name=attendees]") == "650" and page.input_value("input[name=place]") == "学院路快递集散地"
    assert no_sideways_scroll(page) and small_targets(page, "details form") == []
    save_shot(page, "ledger-6-meeting-confirm")
    page.check("input[name=confirm_large]")
    page.click("details form button[type=submit]")
    page.wait_for_selector("#saved .thanks")
    assert "人数超出常见规模，hd 已确认" in page.inner_text("main")
    assert page.errors == []
    context.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_rider_from_the_qr_code_checks_in_with_one_tap(browser, live, js):
    context, page = phone(browser, live, js=js)
    station = live.mine if js else live.other  # one client: one check-in per station per half hour
    page.goto(f"/stations/{station}/qr")
    url = page.inner_text(".url").strip()
    assert url.endswith(f"/stations/{station}")
    page.goto(url)
    button = page.locator("#checkin button")
    assert button.inner_text() == "我在这里歇脚了"
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300 and box["y"] < 844  # big, and on the first screen
    button.click()
    page.wait_for_selector("#checkin .thanks")
    assert "今天您是第" in page.inner_text("#checkin") and "位在这里歇脚的" in page.inner_text("#checkin")
    assert in_view(page, "#checkin .thanks")
    shot(page, f"3-checkin-{'js' if js else 'nojs'}")
    assert no_sideways_scroll(page)
    page.goto(url)
    page.click("#checkin button")  # again at once: refused, said in the same place
    page.wait_for_selector("#checkin .error")
    assert "已在本站签到过了" in page.inner_text("#checkin") and in_view(page, "#checkin .error")
    assert page.errors == []
    context.close()


def test_the_report_reads_on_a_phone(browser, live):
    context, page = phone(browser, live)
    sign_in(page, "plan")
    page.goto("/ledger/reports")
    if live.met.year != ledger.today().year:  # early January: the meeting was last year
        page.select_option("select[name=year]", str(live.met.year))
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(rf"year={live.met.year}"))
    assert "全市共召开职工沟通会 1 场" in page.inner_text(".summary")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert 300 <= box["width"] <= 390 and box["height"] > 40
    assert no_sideways_scroll(page)
    # month table headers on one line (they wrapped one character a line: issue 18, item 16)
    heights = page.eval_on_selector_all("table.grid.num thead th", "ths => ths.map(t => t.getBoundingClientRect().height)")
    assert heights and max(heights) < 40, heights
    # check-ins, new members and meetings each on their own axis: three axes in one chart
    assert page.locator("svg.panels-chart text.legend").count() == 3
    shot(page, "4-report")
    assert page.errors == []
    context.close()


def test_a_district_month_file_imports_on_a_phone(browser, live, tmp_path):
    """A district's Excel template (title, two-row merged header, 合计/填表人/注 lines under
    the table, dates as 11月3日) uploaded from a 390 px phone: written, the skipped lines
    quoted, nothing wider than the screen (issue 18, items 11 and 12)."""
    from tests.ledger_files import district_workbook

    y = ledger.today().year - 1
    rows = [[live.mine, "中关村骑手暖心驿站", "11月3日", 5, 2, 1, 1, 6, 1, 0, 2, "说明：雨天"],
            [live.mine, "中关村骑手暖心驿站", f"{y}1105", 7, 0, 0, 0, 3, 0, 2, 0, None],
            [live.mine, "中关村骑手暖心驿站", f"{y}/11/06 星期五", 4, 1, 0, 0, 2, 2, 1, 0, None]]
    path = district_workbook(tmp_path / "海淀11月台账.xlsx", rows, title=f"海淀区户外劳动者服务站点服务台账（{y}年11月）")
    context, page = phone(browser, live)
    sign_in(page, "hd")
    page.goto("/ledger/import")
    assert no_sideways_scroll(page) and small_targets(page, "form.form") == []
    shot(page, "7-import-form")
    page.set_input_files("input[name=file]", str(path))
    page.click("form.form button[type=submit]")
    page.wait_for_selector("#report", timeout=60_000)
    report = page.inner_text("#report")
    assert "已写入 3 天的台账" in report, report
    assert "已跳过 4 行不是台账的内容" in report and "填表人：王丽" in report
    assert no_sideways_scroll(page)
    shot(page, "8-import-report")
    assert page.errors == []
    context.close()
