"""A district admin forwards its subtree's nominations within its 推荐名额, on a 390 px phone
(issue 16): the campaign list shows the quota, the district page lists the nominations with
a 推荐 button each and "已推荐 N / 名额 M", and the button is refused past the quota.

Screenshots go to screenshots/ (gitignored) for people to look at.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from stations import campaign, storage
from stations.accounts import users
from stations.unions import store
from tests.browser_support import collect_errors, launch, need_browser, no_sideways_scroll, phone_context, \
    small_targets
from tests.browser_support import SHOTS
from tests.browser_support import shot as save_shot
from tests.conftest import make_station

pytestmark = pytest.mark.browser
PASSWORD = "district-pass-1"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from tests.browser_support import serve
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("district") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    street = store.add_union(db, "望京街道工会", parent_id=chaoyang, kind="street")
    store.add_union(db, "顺丰速运工会（北京分公司）", parent_id=street, aliases=["顺丰速运工会"])
    users.add_user(db, "city", PASSWORD, "admin", "北京市总工会")
    users.add_user(db, "cy", PASSWORD, "admin", "朝阳区总工会")
    users.add_user(db, "sf", PASSWORD, "union", "顺丰速运工会")
    users.add_user(db, "rv", PASSWORD, "reviewer", None)  # a campaign needs a reviewer to be possible
    ids = [make_station(db, name=f"顺丰望京暖心驿站{i}号", host_union="顺丰速运工会", district="朝阳区",
                        lon=116.47 + i * 0.002, lat=39.99) for i in range(3)]
    organiser, staff = users.get_user(db, "city"), users.get_user(db, "sf")
    cid = campaign.create_campaign(db, {"name": "2026年北京市最美站点推树", "year": 2026, "level": "municipal",
                                        "quota": 2, "subsidy_yuan": 0, "reviewers_per_station": 1}, organiser)
    for sid in ids:
        campaign.nominate(db, cid, {"station_id": sid, "reason": "全天开放，外卖骑手常来歇脚，设施齐全。"}, staff)
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "browser-district",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url:
        yield SimpleNamespace(url=url, cid=cid, ids=ids)


def _login(page, name):
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()


def test_the_organiser_sets_quotas_and_a_district_admin_forwards_within_its_own_on_a_phone(live):
    with launch() as browser:
        context = phone_context(browser, live.url)
        page = collect_errors(context.new_page())
        page.on("dialog", lambda d: d.accept())
        _login(page, "city")
        page.goto(f"/campaigns/{live.cid}/manage")
        page.get_by_label("朝阳区总工会的推荐名额").fill("2")
        page.locator("#quotas button[type=submit]").click()
        page.wait_for_load_state()
        assert "推荐名额已保存" in page.locator("main").inner_text()
        assert page.get_by_label("朝阳区总工会的推荐名额").input_value() == "2"
        assert no_sideways_scroll(page)
        page.locator("#quotas").screenshot(path=str(SHOTS / "campaign-district-quotas.png"))
        context.clear_cookies()  # sign out

        _login(page, "cy")
        page.goto("/campaigns")
        link = page.get_by_role("link", name=re.compile("推荐上报"))
        assert "已推荐 0 / 名额 2" in link.inner_text()
        assert page.locator("main").get_by_role("link", name="管理", exact=True).count() == 0  # the city's campaign: not the district's
        link.click()
        page.wait_for_url(re.compile(rf"/campaigns/{live.cid}/district"))
        quota = page.locator("#quota")
        assert re.search(r"已推荐\s*0\s*/\s*名额\s*2", quota.inner_text())
        for i in (0, 1):
            page.locator(f"#n{live.ids[i]} button", has_text="推荐").click()
            page.wait_for_load_state()
            assert re.search(rf"已推荐\s*{i + 1}\s*/\s*名额\s*2", page.locator("#quota").inner_text())
        assert "已推荐“顺丰望京暖心驿站1号”" in page.locator("main").inner_text()
        third = page.locator(f"#n{live.ids[2]}")  # the quota is used up: it says so before anyone taps
        assert third.locator("button").count() == 0 and "名额已用完" in third.inner_text()
        assert page.locator(f"#n{live.ids[0]} button", has_text="撤回推荐").is_visible()
        assert no_sideways_scroll(page)
        assert small_targets(page) == []
        save_shot(page, "campaign-district-forward", full_page=True)
        assert page.errors == []
        context.close()
