"""工会管理 on a 390 px phone, in a real browser: an admin places an unplaced union and
merges a duplicate record (screenshots in screenshots/, gitignored)."""

from __future__ import annotations

import pytest

from stations import storage
from stations.accounts import users
from stations.unions import store
from stations.web import create_app
from tests.browser_support import launch, login_form, need_browser, no_sideways_scroll, phone_context, serve, \
    shot, small_targets
from tests.conftest import make_station

pytestmark = pytest.mark.browser
PASSWORD = "organiser-pass-1"


@pytest.fixture
def live(tmp_path):
    need_browser()
    path = tmp_path / "yizhan.db"
    db = storage.connect(path)
    storage.migrate(db)
    city = store.add_union(db, "北京市总工会", kind="municipal", aliases=["北京市总"])
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    wangjing = store.add_union(db, "朝阳区望京街道工会", parent_id=chaoyang, kind="street")
    sf = store.add_union(db, "顺丰速运工会", parent_id=wangjing, aliases=["顺丰工会"])
    make_station(db, name="望京顺丰驿站", lon=116.47, lat=39.99, district="朝阳区", host_union="顺丰速运工会")
    for n in range(2):  # an import's new spelling of a branch, waiting to be placed
        make_station(db, name=f"顺丰北京分公司驿站{n}", lon=116.44 + n / 100, lat=39.93, district="朝阳区",
                     host_union="顺丰速运工会（北京分公司）")
    make_station(db, name="顺丰重复记录驿站", lon=116.50, lat=39.95, district="朝阳区",
                 host_union="顺丰速运工会 朝阳")  # the same union under another record
    users.add_user(db, "org", PASSWORD, "admin", "北京市总工会")
    users.add_user(db, "cy", PASSWORD, "admin", "朝阳区总工会")
    # what a 朝阳 admin's import adds: unplaced, provisionally under 朝阳
    store.resolve_or_create(db, "美团外卖望京站工会", parent_id=chaoyang)
    make_station(db, name="美团望京驿站", lon=116.48, lat=39.99, district="朝阳区", host_union="美团外卖望京站工会")
    store.add_union(db, "物美海淀分公司工会", parent_id=store.find_union(db, "海淀区总工会")["id"])
    ids = {"sf": sf, "wangjing": wangjing, "meituan": store.find_union(db, "美团外卖望京站工会")["id"], "branch": store.find_union(db, "顺丰速运工会（北京分公司）")["id"],
           "dup": store.find_union(db, "顺丰速运工会 朝阳")["id"]}
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(path), "TESTING": True, "YIZHAN_SECRET_KEY": "browser-unions",
                      "WTF_CSRF_ENABLED": True})
    with serve(app) as url, launch() as browser:
        context = phone_context(browser, url)
        yield {"page": context.new_page(), "ids": ids, "path": path}
        context.close()


def _check_layout(page, where):
    assert small_targets(page) == [], where
    assert no_sideways_scroll(page), where


def test_an_admin_places_an_unplaced_union_and_merges_a_duplicate_on_a_phone(live):
    page, ids = live["page"], live["ids"]
    login_form(page, "org", PASSWORD)
    page.goto("/admin")
    assert "3 个工会待确认归属" in page.inner_text("main")
    page.locator("header a", has_text="工会管理").click()
    page.wait_for_url("**/admin/unions")
    unplaced = page.locator("section.unplaced")
    assert "待确认归属（3 个）" in unplaced.inner_text()
    assert "是否指“顺丰速运工会”？" in unplaced.locator(f"li[data-union='{ids['branch']}']").inner_text()
    _check_layout(page, "/admin/unions")
    shot(page, "unions-1-index", full_page=True)

    # place the branch under 顺丰速运工会, typing its alias
    unplaced.locator(f"li[data-union='{ids['branch']}'] a").first.click()
    page.wait_for_url(f"**/admin/unions/{ids['branch']}")
    _check_layout(page, "a union's page")
    page.fill("#place input[name=parent]", "顺丰工会")
    page.select_option("#place select[name=kind]", "grassroots")
    shot(page, "unions-2-place-form")
    page.locator("#place button[type=submit]").click()
    page.wait_for_load_state()
    assert "已确认归属：放在“顺丰速运工会”之下" in page.inner_text("main")
    assert "待确认归属" not in page.inner_text("main h1 + p")
    shot(page, "unions-3-placed")

    # merge the duplicate record through its suggested match, confirming what moves
    page.goto("/admin/unions")
    duplicate = page.locator(f"section.unplaced li[data-union='{ids['dup']}']")
    assert "1 个站点" in duplicate.inner_text()
    duplicate.locator("a", has_text="并入“顺丰速运工会”").click()
    page.wait_for_url("**/admin/unions/merge**")
    assert page.input_value("input[name=from]") == "顺丰速运工会 朝阳"
    assert page.input_value("input[name=into]") == "顺丰速运工会"
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()
    confirm = page.locator("#confirm")
    assert "并入“顺丰速运工会”，将转移： 站点 1 个。" in confirm.inner_text()
    _check_layout(page, "the merge's confirmation")
    shot(page, "unions-4-merge-confirm", full_page=True)
    confirm.locator("button", has_text="确认合并").click()
    page.wait_for_load_state()
    assert "已把“顺丰速运工会 朝阳”并入“顺丰速运工会”：站点 1 个" in page.inner_text("main")
    shot(page, "unions-5-merged")

    page.goto("/admin/unions")
    assert "待确认归属（1 个）" in page.inner_text("section.unplaced")  # only 朝阳's own new union waits
    log = page.locator("section.union-log").inner_text()
    assert "把“顺丰速运工会 朝阳”并入“顺丰速运工会”" in log and "确认“顺丰速运工会（北京分公司）”的归属" in log
    _check_layout(page, "/admin/unions after")
    shot(page, "unions-6-tree-after", full_page=True)

    db = storage.connect(live["path"])
    try:
        assert store.get_union(db, ids["dup"]) is None
        assert store.get_union(db, ids["branch"])["parent_id"] == ids["sf"]
        assert {r[0] for r in db.execute("SELECT DISTINCT host_union_id FROM stations")} == {ids["sf"], ids["branch"], ids["meituan"]}
    finally:
        db.conn.close()


def test_a_district_admin_places_what_its_import_added_within_its_district_on_a_phone(live):
    page, ids = live["page"], live["ids"]
    login_form(page, "cy", PASSWORD)
    page.goto("/admin")
    assert "1 个工会待确认归属" in page.inner_text("main")  # 朝阳's, not the city's three
    page.locator("header a", has_text="工会管理").click()
    page.wait_for_url("**/admin/unions")
    main = page.inner_text("main")
    assert "管理范围：朝阳区总工会" in main and "待确认归属（1 个）" in main
    assert "美团外卖望京站工会 1 个站点 · 暂放在“朝阳区总工会”之下" in page.inner_text("section.unplaced")
    assert "海淀" not in main and "北京市总工会" not in main and "顺丰速运工会 朝阳" not in main
    _check_layout(page, "a district's /admin/unions")
    shot(page, "unions-7-district-index", full_page=True)
    page.locator(f"section.unplaced li[data-union='{ids['meituan']}'] a").first.click()
    page.fill("#place input[name=parent]", "海淀区总工会")  # not its district: refused, typed text kept
    page.locator("#place button[type=submit]").click()
    page.wait_for_load_state()
    assert "不在您管理的范围（朝阳区总工会）内" in page.inner_text("main .error")
    assert page.input_value("#place input[name=parent]") == "海淀区总工会"
    page.fill("#place input[name=parent]", "朝阳区望京街道工会")
    page.locator("#place button[type=submit]").click()
    page.wait_for_load_state()
    assert "已确认归属：放在“朝阳区望京街道工会”之下" in page.inner_text("main")
    shot(page, "unions-8-district-placed")
    page.goto("/admin")
    assert "待确认归属" not in page.inner_text("main")
