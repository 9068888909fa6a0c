"""Long /plan work in a real browser (Debian chromium through Playwright, offline): the
planner submits the form, lands on the job's page that names the stage it is in, and is
taken to the results when the background process is done — without reloading by hand.
On a phone, a demand layer upload waits its turn behind another planner's job (its place
shown), then reads in the background and ends on its report."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from stations import storage
from stations.accounts import users
from tests.browser_support import launch, login_form, need_browser, offline, phone_context, serve, shot, small_targets
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
    users.add_user(db, "phone", "phone-pass-1", "planner")
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "plan-secret",
                      "YIZHAN_TILES": "osm", "YIZHAN_PLAN_BACKGROUND_CELLS": 0, "YIZHAN_PLAN_JOBS_AT_ONCE": 1})
    with serve(app) as url:
        yield SimpleNamespace(url=url, db_path=db_path)


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


def test_on_a_phone_an_upload_waits_its_turn_then_ends_on_its_report(live, tmp_path):
    import subprocess
    import sys

    from stations import plan_queue
    from stations.coverage.jobs import jobs_dir, submit_job

    # another planner's job holds the one slot, in a process that will die
    folder = jobs_dir(live.db_path)
    other = submit_job(live.db_path, "plan", {"args": [], "region": "beijing", "map": {}}, username="other",
                       at_once=1, launch=lambda command, log: None)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert plan_queue.take_turn(folder, other, pid=holder.pid) == "run"
        bad = tmp_path / "订单.csv"
        bad.write_text("经度,纬度,订单量\n116.40,39.91,5\n116.41,139.92,2\n", encoding="utf-8")
        with launch() as browser:
            context = phone_context(browser, live.url)
            context.set_default_timeout(60_000)
            page = context.new_page()
            login_form(page, "phone", "phone-pass-1")
            page.goto("/plan")
            page.fill("#demand-form input[name=name]", "三月订单（海淀区外卖站点周边）")
            page.set_input_files("#demand-form input[name=file]", str(bad))
            page.click("#demand-form button[type=submit]")
            queued = page.locator("#plan-job-queue")
            queued.wait_for()
            assert queued.inner_text().startswith("排队中：前面还有 1 个任务")
            assert page.locator("h1").inner_text() == "需求图层：正在后台读取文件"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            shot(page, "plan-phone-upload-queued", full_page=True)
            holder.kill()  # the other job dies: its place is freed, this one's turn comes
            page.wait_for_selector("#demand-report")  # followed without a reload
            assert page.locator("h1").inner_text() == "需求图层导入未完成"
            assert "第 3 行 [纬度] 错误" in page.locator("#demand-report").inner_text()
            assert page.input_value("#demand-form input[name=name]") == "三月订单（海淀区外卖站点周边）"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the report's lines widen the page"
            assert small_targets(page) == []
            shot(page, "plan-phone-upload-report", full_page=True)
            context.close()
    finally:
        holder.kill()
        holder.wait()
