"""Long /plan work in a real browser (Debian chromium through Playwright, offline): the
planner submits the form, lands on the job's page that names the stage it is in, and is
taken to the results when the background process is done — without reloading by hand."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from stations import storage, users
from tests.browser_support import launch, login_form, need_browser, offline, serve
from tests.conftest import make_station

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("plan_job") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    for k in range(6):
        make_station(db, name=f"后台站{k}", lon=116.400 + 0.006 * k, lat=39.915)
    users.add_user(db, "planner", "plan-pass-1", "planner")
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "plan-secret",
                      "YIZHAN_TILES": "osm", "YIZHAN_PLAN_BACKGROUND_CELLS": 0})
    with serve(app) as url:
        yield SimpleNamespace(url=url)


def test_the_page_follows_the_background_job_to_its_results(live):
    with launch() as browser:
        context = browser.new_context(locale="zh-CN", base_url=live.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        offline(context, live.url)
        page = context.new_page()
        visited, polled = [], []
        page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
        page.on("request", lambda request: polled.append(request.url) if request.url.endswith(".json") else None)
        login_form(page, "planner", "plan-pass-1")
        page.goto("/plan")
        page.select_option("select[name=district]", ["东城区"])
        page.fill("input[name=cell_m]", "200")
        page.fill("input[name=p]", "2")
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#figures table")  # the results, reached without a manual reload
        job_pages = [u for u in visited if re.search(r"/plan/jobs/[0-9a-f]{16}$", u)]
        assert job_pages, visited
        assert page.url == job_pages[-1]
        assert "已在后台算完" in page.locator("#plan-job-done").inner_text()
        assert page.locator("#figures tbody tr").first.inner_text().startswith("东城区")
        assert page.locator("#suggestions tbody tr").count() == 2
        page.frame_locator("#plan-map").locator(".leaflet-control-layers").wait_for()
        # the progress page itself, as a planner sees it while the work runs
        key = job_pages[-1].rsplit("/", 1)[1]
        status = page.request.get(f"/plan/jobs/{key}.json").json()
        assert status["state"] == "done" and status["steps"] == 7
        context.close()
