"""Long /plan work runs in a background process and the page shows its stages; short work
stays in the request.  The job's results, map and downloads are the ones the request
would give."""

from __future__ import annotations

import re
import time

import pytest

from stations.coverage import jobs as plan_jobs
from stations.coverage.jobs import STAGES, estimated_cells, job_status, start_plan_job
from tests.conftest import make_station

QUERY = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "200", "p": "2", "close": "1"}


@pytest.fixture
def filled(fresh_db):
    for k in range(6):
        make_station(fresh_db, name=f"规划站{k}", lon=116.400 + 0.006 * k, lat=39.915)
    return fresh_db


def wait_for(client, key, timeout=90.0):
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        status = client.get(f"/plan/jobs/{key}.json").get_json()
        seen.append((status["state"], status["stage"]))
        if status["finished"]:
            return status, seen
        assert time.monotonic() < deadline, f"job still {status} after {timeout} s"
        time.sleep(0.1)


def figures_rows(html):
    table = re.search(r'<table class="figures">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr[^>]*><td>([^<]*)</td><td>(\d+)</td><td>([\d.]+)</td>", table)


def test_the_estimate_decides_and_matches_the_grid():
    from stations.coverage.grid import area_for

    area = area_for("beijing", ["东城区"], 200)
    assert estimated_cells("beijing", ["东城区"], 200) == pytest.approx(area.nx * area.ny, rel=0.1)
    assert estimated_cells("beijing", [], 100) > 1_000_000  # all Beijing at 100 m: the background


def test_short_work_stays_in_the_request(app, client, auth, filled):
    auth.login("planner")
    page = client.get("/plan", query_string={**QUERY, "run": "1"})
    assert page.status_code == 200 and figures_rows(page.get_data(as_text=True))


def test_long_work_runs_in_the_background_and_gives_the_same_page(app, client, auth, filled):
    auth.login("planner")
    direct = client.get("/plan", query_string={**QUERY, "run": "1"}).get_data(as_text=True)
    app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 0  # everything is long now
    started = time.monotonic()
    answer = client.get("/plan", query_string={**QUERY, "run": "1"})
    assert answer.status_code == 303 and time.monotonic() - started < 5  # the worker is free at once
    key = re.fullmatch(r"/plan/jobs/([0-9a-f]{16})", answer.headers["Location"]).group(1)
    waiting = client.get(f"/plan/jobs/{key}").get_data(as_text=True)
    if 'id="plan-job-stages"' in waiting:  # still running: the stages are listed, no-JS refresh
        assert all(name in waiting for _, name in STAGES) and 'http-equiv="refresh"' in waiting
    status, seen = wait_for(client, key)
    assert status["state"] == "done", status
    page = client.get(f"/plan/jobs/{key}").get_data(as_text=True)
    assert figures_rows(page) == figures_rows(direct) and figures_rows(page)
    assert "已在后台算完" in page and f'src="/plan/jobs/{key}/map"' in page
    for section in ("suggestions", "criticality", "whatif"):
        mine = re.search(rf'<section id="{section}">(.*?)</section>', page, re.S).group(1)
        theirs = re.search(rf'<section id="{section}">(.*?)</section>', direct, re.S).group(1)
        assert re.sub(r'href="[^"]*"', "", mine) == re.sub(r'href="[^"]*"', "", theirs), section
    mapped = client.get(f"/plan/jobs/{key}/map")
    assert mapped.status_code == 200 and "leaflet" in mapped.get_data(as_text=True).lower()
    # its inline scripts are allowed by hash, as on the map the request draws
    assert "'sha256-" in mapped.headers["Content-Security-Policy"]
    for table, fmt in (("figures", "csv"), ("gaps", "csv"), ("gaps", "geojson"), ("suggestions", "csv"),
                       ("suggestions", "geojson"), ("criticality", "csv")):
        link = f"/plan/jobs/{key}/{table}.{fmt}"
        assert f'href="{link}"' in page, link
        app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 300_000
        same = client.get(f"/plan/{table}.{fmt}", query_string=QUERY).get_data()
        assert client.get(link).get_data() == same, link
    assert client.get("/plan/jobs/0123456789abcdef").status_code == 404
    assert client.get("/plan/jobs/..%2F..%2Fsecret").status_code == 404
    assert client.get("/plan/jobs/0123456789abcdef.json").status_code == 404


def test_the_status_names_each_stage_while_it_runs(app, db_path, filled, monkeypatch):
    key = start_plan_job(db_path, list(QUERY.items()), "beijing",
                         {"tiles": "osm", "static_url": "/static/vendor/", "api_url": "/api/v1/stations/"},
                         launch=lambda command, log: None)  # run below, in this process
    queued = job_status(db_path, key)
    assert queued["state"] == "queued" and queued["step"] == 0 and not queued["finished"]
    observed = []
    real = plan_jobs.plan_results

    def watching(*args, progress, **kwargs):
        def report(stage):
            progress(stage)
            status = job_status(db_path, key)  # what the page would read now
            observed.append((status["state"], status["stage"], status["step"], status["stage_name"],
                             [s["key"] for s in status["stages"] if s["done"]]))
        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(plan_jobs, "plan_results", watching)
    assert plan_jobs.run_plan_job(db_path, key) == "done"
    keys = [k for k, _ in STAGES]
    assert [o[1] for o in observed] == keys  # every stage, in order (close=1: the what-if runs)
    for step, (state, stage, number, name, done) in enumerate(observed, 1):
        assert state == "running" and number == step and name == dict(STAGES)[stage]
        assert done == keys[:step - 1]
    assert job_status(db_path, key)["state"] == "done"


def test_a_dead_or_never_started_job_is_reported_failed(app, client, auth, db_path, filled, monkeypatch):
    key = start_plan_job(db_path, list(QUERY.items()), "beijing", {}, launch=lambda command, log: None)
    monkeypatch.setattr(plan_jobs, "_START_GRACE_S", -1)
    auth.login("planner")
    page = client.get(f"/plan/jobs/{key}").get_data(as_text=True)
    assert "计算进程没有启动" in page and 'id="plan-job-error"' in page
    status_path = plan_jobs.jobs_dir(db_path) / f"{key}.status.json"
    status_path.write_text('{"state": "running", "stage": "gaps", "pid": 999999999}')
    assert "计算进程意外结束" in client.get(f"/plan/jobs/{key}.json").get_json()["message"]


def test_a_job_refused_by_the_grid_limit_says_why(app, client, auth, filled):
    auth.login("planner")
    app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 0
    answer = client.get("/plan", query_string={**QUERY, "district": "", "cell_m": "20", "run": "1"})
    assert answer.status_code == 303
    key = answer.headers["Location"].rsplit("/", 1)[1]
    status, _ = wait_for(client, key)
    assert status["state"] == "failed" and "上限" in status["message"]
    assert status["message"].startswith("格子边长：网格过大")  # the form's word for cell_m
    page = client.get(f"/plan/jobs/{key}").get_data(as_text=True)
    assert "上限" in page and "Traceback" not in page
