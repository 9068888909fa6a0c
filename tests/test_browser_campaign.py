"""One whole 最美站点 campaign in a real browser (Debian chromium through Playwright), on a phone:
the organiser creates it, a grassroots union nominates with a photo, reviewers score on the
form, the organiser ranks, the public objects, the organiser resolves and confirms.

Screenshots go to screenshots/ (gitignored) for people to look at.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from stations import campaign, storage
from stations.accounts import users
from tests.browser_support import (
    collect_errors,
    launch,
    need_browser,
    no_sideways_scroll,
    phone_context,
    serve,
    wait_until,
)
from tests.browser_support import shot as save_shot
from tests.conftest import make_station

pytestmark = pytest.mark.browser
UNIONS = ["东城区总工会", "西城区总工会"]
PASSWORD = "campaign-pass-1"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("campaign") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    users.add_user(db, "org", PASSWORD, "admin")
    users.add_user(db, "dc", PASSWORD, "union", UNIONS[0], create_union=True)
    users.add_user(db, "rv1", PASSWORD, "reviewer", UNIONS[1], create_union=True)
    users.add_user(db, "rv2", PASSWORD, "reviewer", "朝阳区总工会", create_union=True)
    ids = [make_station(db, name=f"东城暖心驿站{i}", host_union=UNIONS[0], lon=116.40 + i * 0.002,
                        hours="24/7" if i == 0 else "Mo-Su 08:00-20:00") for i in range(3)]
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "browser-campaign",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url:
        yield SimpleNamespace(url=url, db_path=db_path, ids=ids)


@pytest.fixture(scope="module")
def browser(live):
    with launch() as chromium:
        yield chromium


def phone(browser, live):
    context = phone_context(browser, live.url)
    page = collect_errors(context.new_page())  # map tiles fail on purpose (offline): not counted
    page.on("dialog", lambda d: d.accept())  # the "stages only move forward" confirmation
    return context, page


def login(page, name):
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/admin"))


def shot(page, name):
    save_shot(page, f"campaign-{name}", full_page=True)


def photo_bytes():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_a_whole_campaign_as_its_users_walk_it(browser, live):
    org_context, org = phone(browser, live)
    login(org, "org")
    org.goto("/campaigns/new")
    org.fill("input[name=name]", "2021年东城区最美站点")
    org.fill("input[name=year]", "2021")
    org.select_option("select[name=level]", "district")
    org.fill("input[name=quota]", "2")
    org.fill("input[name=subsidy_yuan]", "20000")
    org.fill("input[name=reviewers_per_station]", "2")
    shot(org, "1-create")
    org.click("main button[type=submit]")
    org.wait_for_url(re.compile(r"/campaigns/\d+/manage"))
    cid = int(re.search(r"/campaigns/(\d+)/", org.url).group(1))
    assert "基层推荐" in org.inner_text(".stage-bar li.current")

    union_context, union = phone(browser, live)
    login(union, "dc")
    union.goto("/campaigns")
    union.click("text=推荐本工会站点")
    for n, sid in enumerate(live.ids):
        union.select_option("select[name=station_id]", str(sid))
        union.fill("textarea[name=reason]", f"二十四小时开放，骑手常来歇脚（{n}）")
        if n == 0:
            union.set_input_files("input[name=photos]", files=[
                {"name": "站点.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}])
            shot(union, "2-nominate")
        union.click("main button[type=submit]")
        union.wait_for_selector(".flash")
        assert "已推荐" in union.inner_text(".flash")
    assert no_sideways_scroll(union)

    org.goto(f"/campaigns/{cid}/manage")
    org.fill("#stage textarea[name=reason]", "推荐截止")
    org.click("#stage button[type=submit]")
    org.wait_for_selector(".stage-bar li.current")
    assert "综合评议" in org.inner_text(".stage-bar li.current")
    org.click("text=自动分配评审")
    org.wait_for_selector(".flash")
    assert "已分配 6 份" in org.inner_text(".flash")

    for n, name in enumerate(["rv1", "rv2"]):
        context, reviewer = phone(browser, live)
        login(reviewer, name)
        reviewer.goto(f"/campaigns/{cid}/queue")
        for station_index, sid in enumerate(live.ids):
            reviewer.goto(f"/campaigns/{cid}/review/{sid}")
            assert "使用证据" in reviewer.inner_text("main")
            if station_index == 0 and n == 0:
                assert reviewer.locator(".photos img").count() == 1
                # loading="lazy": below the fold on a phone the photo may not have loaded yet
                reviewer.locator(".photos img").scroll_into_view_if_needed()
                wait_until(reviewer, "document.querySelector('.photos img').complete "
                                           "&& document.querySelector('.photos img').naturalWidth > 0")
                assert reviewer.evaluate("document.querySelector('.photos img').naturalWidth") == 320
            score = str(9 - station_index)
            if station_index == 1 and n == 0:
                # issue 17: a refused 提交 keeps what was typed (as a draft), names every missing
                # criterion and comes back scrolled to the errors, not at the top of the page
                reviewer.fill("input[name=score_site]", "7,5")
                reviewer.fill("textarea[name=note_site]", "场地临街")
                reviewer.click("button[value=submit]")
                reviewer.wait_for_selector("#errors")
                assert reviewer.url.endswith("#errors")
                # the browser scrolls to the fragment once the page has laid out (slower on a busy machine)
                wait_until(reviewer, "document.readyState === 'complete' && "
                                           "document.getElementById('errors').getBoundingClientRect().top < 844")
                assert reviewer.evaluate("document.getElementById('errors').getBoundingClientRect().top") < 844
                assert reviewer.evaluate("window.scrollY") > 0
                assert reviewer.locator("#errors li").count() == 6
                assert reviewer.input_value("input[name=score_site]") == "7,5"  # as typed
                assert reviewer.input_value("textarea[name=note_site]") == "场地临街"
                assert "已存为草稿" in reviewer.inner_text("#errors")
                assert no_sideways_scroll(reviewer)
            for field in reviewer.locator("input[name^=score_]").all():
                field.fill(score)
            reviewer.check("input[value=ledger]")
            reviewer.fill("textarea[name=note_service]", "服务台账齐全")
            if station_index == 0 and n == 0:
                shot(reviewer, "3-review-form")
                reviewer.click("button[value=draft]")
                reviewer.wait_for_selector(".flash")
                assert "草稿已保存" in reviewer.inner_text(".flash")
            reviewer.click("button[value=submit]")
            reviewer.wait_for_url(re.compile(r"/queue"))
        assert reviewer.locator(".state-submitted").count() == 3
        assert not reviewer.errors, reviewer.errors
        context.close()

    org.goto(f"/campaigns/{cid}/ranking")
    rows = org.locator("table.ranking tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td").nth(1).inner_text().startswith("东城暖心驿站0")
    assert rows.nth(0).locator("td.total").inner_text() == "90.00"
    org.locator("table.ranking summary").first.click()
    assert org.locator("svg.radar").first.is_visible()
    assert "Kendall" in org.inner_text("main") and "面子工程" in org.inner_text(".rules")
    shot(org, "4-ranking")

    org.goto(f"/campaigns/{cid}/manage")
    org.fill("#stage textarea[name=reason]", "评审完成")
    org.click("#stage button[type=submit]")
    org.wait_for_selector(".flash")
    assert "公示" in org.inner_text(".stage-bar li.current")

    public_context, public = phone(browser, live)
    public.goto(f"/campaigns/{cid}")
    listed = public.locator("table.winners tr td:nth-child(2)").all_inner_texts()
    assert listed == ["东城暖心驿站0", "东城暖心驿站1"]
    public.select_option("select[name=station_id]", str(live.ids[1]))
    public.fill("textarea[name=reason]", "晚上八点就关门，夜班骑手用不上")
    public.click("text=提交异议")
    public.wait_for_selector(".thanks")
    shot(public, "5-objection")
    assert not public.errors, public.errors

    org.goto(f"/campaigns/{cid}/manage")
    org.reload()  # the organiser was already on this page: a real reload shows the new objection
    assert "晚上八点就关门" in org.inner_text("#objections")
    org.fill("#objections textarea[name=reason]", "核实属实：夜间不开放")
    org.click("#objections button[value='1']")
    org.wait_for_selector(".flash")
    public.goto(f"/campaigns/{cid}")
    assert public.locator("table.winners tr td:nth-child(2)").all_inner_texts() == ["东城暖心驿站0", "东城暖心驿站2"]

    org.goto(f"/campaigns/{cid}/manage")
    org.fill("#stage textarea[name=reason]", "公示无其他异议，提前确认")
    org.check("#stage input[name=force]")
    org.click("#stage button[type=submit]")
    org.wait_for_selector(".flash")
    assert "确认" in org.inner_text(".stage-bar li.current")
    with org.expect_download() as download:
        org.click("text=导出获奖名单 XLSX")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert download.value.suggested_filename == f"yizhan-awards-{cid}.xlsx"
    assert [r[2] for r in sheet.iter_rows(min_row=3, max_row=4, values_only=True)] == ["东城暖心驿站0", "东城暖心驿站2"]
    shot(org, "6-confirmed")

    public.goto(f"/stations/{live.ids[0]}")
    assert "最美工会户外劳动者服务站点" in public.inner_text("main")
    assert "七有情况" in public.inner_text("#qiyou")
    shot(public, "7-station")
    for page in (org, union, public):
        assert not page.errors, page.errors
    for context in (org_context, union_context, public_context):
        context.close()


def test_the_nomination_form_fits_a_phone_with_long_station_names(browser, live):
    db = storage.connect(live.db_path)
    make_station(db, name="中国石油加油站东城区建国门内大街职工暖心驿站（户外劳动者服务站）", host_union=UNIONS[0],
                 lon=116.43)
    org = users.get_user(db, "org")
    cid = campaign.create_campaign(db, {"name": "长名称试验", "year": 2022, "level": "district", "quota": 1,
                                        "subsidy_yuan": 1000, "reviewers_per_station": 1}, org)
    db.conn.close()
    context, union = phone(browser, live)
    login(union, "dc")
    union.goto(f"/campaigns/{cid}/nominate")
    shot(union, "nominate-long-names")
    assert no_sideways_scroll(union)
    assert union.eval_on_selector("input[name=photos]", "e => e.getBoundingClientRect().height") >= 44
    context.close()
