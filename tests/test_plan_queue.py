"""/plan's heavy work waits its turn: uploads of demand layers and candidate sites are read
in background jobs (the web worker only saves the file), a bounded number of jobs run at
once with the others' place shown, one job per user, and a job whose process died frees
its place.  Broken XLSX references reach these pages as the reader's message."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

import pytest

from stations import jobs as import_jobs
from stations import plan_queue
from stations.accounts import users
from stations.coverage import demand as demand_layers
from stations.coverage.jobs import jobs_dir
from tests.conftest import csrf_token, finish_plan_job, make_station
from tests.test_xlsx_row_refs import POINTS, cell_ref, crafted, row_ref

LAYER = "订单（三月）"
GOOD = "经度,纬度,订单量\n116.40,39.91,5\n116.41,39.92,2\n".encode()
BAD = "经度,纬度,订单量\n116.40,39.91,5\n116.41,139.92,2\nabc,39.9,1\n".encode()
LONG = {"minutes": "15", "mode": "walk", "district": "东城区", "cell_m": "500", "p": "1", "run": "1"}


@pytest.fixture
def launched(monkeypatch):
    """Job processes are not started: the commands are kept, to be run by the test."""
    commands = []
    monkeypatch.setattr(import_jobs, "start_detached", lambda command, log: commands.append(command))
    return commands


@pytest.fixture
def second(app, fresh_db):
    """A second planner, signed in on a client of its own."""
    users.add_user(fresh_db, "planner2", "plan-pass-2", "planner")
    other = app.test_client()
    other.post("/login", data={"username": "planner2", "password": "plan-pass-2", "csrf_token": csrf_token(other)})
    return other


def upload_demand(client, data=GOOD, name=LAYER, filename="订单.csv"):
    return client.post("/plan/demand", data={"csrf_token": csrf_token(client, "/plan"), "name": name,
                                             "datum": "gcj02", "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def job_key(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return re.fullmatch(r"/plan/jobs/([0-9a-f]{16})", response.headers["Location"]).group(1)


def layers(db):
    return [row[0] for row in db.execute("SELECT name FROM demand_layers")]


# --- item 2: the upload is saved, the job reads it ----------------------------------------------

def test_a_demand_upload_answers_at_once_and_its_job_stores_the_layer(app, client, auth, fresh_db, db_path,
                                                                      launched, monkeypatch):
    read = []
    real = demand_layers.read_points
    monkeypatch.setattr(demand_layers, "read_points", lambda *a, **k: read.append(a[1]) or real(*a, **k))
    auth.login("planner")
    key = job_key(upload_demand(client))
    assert read == [] and layers(fresh_db) == []  # the web worker did not read the file
    assert launched == [[sys.executable, "-m", "stations.plan_queue", str(db_path.resolve()), key]]
    waiting = client.get(f"/plan/jobs/{key}")
    text = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and "需求图层：正在后台读取文件" in text and "读取并逐行检查文件" in text
    assert client.get(f"/plan/jobs/{key}.json").get_json()["state"] == "queued"
    assert plan_queue.main(launched[0][3:]) == 0  # what the started process does
    assert read == ["订单.csv"] and layers(fresh_db) == [LAYER]
    page = client.get(f"/plan/jobs/{key}")
    assert page.status_code == 200 and f"已保存需求图层“{LAYER}”：2 个点" in page.get_data(as_text=True)
    status = client.get(f"/plan/jobs/{key}.json").get_json()
    assert status["state"] == "done" and status["ok"] is True and status["kind"] == "demand"
    assert not list(jobs_dir(db_path).glob("*.upload"))  # the upload does not linger
    # the layer is what the form said: its datum (GCJ-02) converted to WGS-84
    stored = demand_layers.load_layer_points(fresh_db, LAYER)
    assert abs(stored.lons[0] - 116.40) > 1e-4


def test_a_bad_demand_file_names_its_rows_on_the_job_page_and_keeps_the_name(client, auth, fresh_db,
                                                                             inline_plan_jobs):
    auth.login("planner")
    page = finish_plan_job(client, upload_demand(client, BAD))
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "需求图层导入未完成" in text
    assert "第 3 行 [纬度] 错误" in text and "第 4 行 [经度] 错误" in text and "未写入任何数据" in text
    assert re.search(rf'name="name"[^>]*value="{LAYER}"', text)  # typed once, kept for the next try
    assert re.search(r'<option value="gcj02" selected>', text)
    assert layers(fresh_db) == []
    status = client.get(page.request.path + ".json").get_json()
    assert status["state"] == "failed" and status["ok"] is False and "2 行有错误" in status["message"]


def test_a_taken_or_empty_name_is_refused_before_anything_is_saved(client, auth, fresh_db, db_path, launched):
    assert demand_layers.import_layer(fresh_db, LAYER, GOOD, "a.csv").ok
    auth.login("planner")
    for name, says in ((LAYER, "已有名为"), ("  ", "请给需求图层起个名字")):
        answer = upload_demand(client, name=name)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400 and says in text
        assert re.search(r'id="demand-error" role="alert">图层名称', text)
    assert launched == []
    assert not jobs_dir(db_path).exists() or not list(jobs_dir(db_path).glob("*.upload"))


def test_candidates_are_read_in_a_job_and_the_page_comes_back_with_them(client, auth, fresh_db, launched):
    make_station(fresh_db, name="东单驿站", lon=116.418, lat=39.913)
    auth.login("planner")
    answer = client.post("/plan/candidates", data={
        "csrf_token": csrf_token(client, "/plan"), "datum": "wgs84", "query": "minutes=12&district=东城区&cell_m=500",
        "file": (io.BytesIO("名称,经度,纬度\n候选甲,116.40,39.915\n".encode()), "c.csv")},
        content_type="multipart/form-data")
    key = job_key(answer)
    assert "候选点文件：正在后台读取" in client.get(f"/plan/jobs/{key}").get_data(as_text=True)
    plan_queue.main(launched[0][3:])
    back = client.get(f"/plan/jobs/{key}")
    assert back.status_code == 302
    assert re.search(r"^/plan\?minutes=12&district=.*&cell_m=500&candidates=[0-9a-f]{16}&run=1$",
                     back.headers["Location"])
    assert "1 个候选点" in client.get(back.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("edit", [row_ref("inf"), row_ref("1e308"), row_ref("nan"), cell_ref("Ainf")],
                         ids=["row-inf", "row-1e308", "row-nan", "cell-Ainf"])
def test_a_broken_xlsx_reference_is_the_readers_message_on_both_uploads(client, auth, fresh_db, inline_plan_jobs,
                                                                        edit):
    data = crafted(POINTS, edit)
    auth.login("planner")
    demand = finish_plan_job(client, upload_demand(client, data, filename="点.xlsx"))
    text = demand.get_data(as_text=True)
    assert demand.status_code == 400 and "无效" in text and "内部错误" not in text and "Traceback" not in text
    assert re.search(rf'name="name"[^>]*value="{LAYER}"', text) and layers(fresh_db) == []
    candidates = finish_plan_job(client, client.post("/plan/candidates", data={
        "csrf_token": csrf_token(client, "/plan"), "query": "minutes=15",
        "file": (io.BytesIO(data), "点.xlsx")}, content_type="multipart/form-data"))
    text = candidates.get_data(as_text=True)
    assert candidates.status_code == 400 and "无效" in text and "内部错误" not in text
    assert 'href="/plan?minutes=15"' in text


# --- item 3: a bounded number at once, their place shown, one per user -----------------------

def test_with_one_at_a_time_a_second_job_waits_and_shows_its_place(app, client, auth, second, fresh_db, db_path,
                                                                   launched):
    app.config.update(YIZHAN_PLAN_JOBS_AT_ONCE=1, YIZHAN_PLAN_BACKGROUND_CELLS=0)
    auth.login("planner")
    first = job_key(upload_demand(client))
    later = job_key(second.get("/plan", query_string=LONG))  # a long computation: the same queue
    folder = jobs_dir(db_path)
    assert plan_queue.take_turn(folder, first) == "run"  # the first job's process starts its work
    page = second.get(f"/plan/jobs/{later}").get_data(as_text=True)
    assert re.search(r'id="plan-job-queue" role="status">排队中：前面还有 1 个任务', page)
    status = second.get(f"/plan/jobs/{later}.json").get_json()
    assert status["state"] == "queued" and status["ahead"] == 1 and status["at_once"] == 1
    waiter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert plan_queue.take_turn(folder, later, pid=waiter.pid) == "wait"  # its turn has not come
        from stations.coverage.uploads import run_upload_job

        assert run_upload_job(db_path, first) == "done"
        plan_queue.leave(folder, first)
        assert plan_queue.take_turn(folder, later, pid=waiter.pid) == "run"
        assert second.get(f"/plan/jobs/{later}.json").get_json()["ahead"] is None
    finally:
        waiter.kill()
        waiter.wait()


def test_real_job_processes_take_turns(app, client, auth, second, fresh_db, db_path):
    """Two uploads by two planners with one at a time, each in the process the web starts:
    the second starts reading only after the first has finished."""
    app.config["YIZHAN_PLAN_JOBS_AT_ONCE"] = 1
    auth.login("planner")
    keys = [job_key(upload_demand(client, name="甲")), job_key(upload_demand(second, name="乙"))]
    for key, who in zip(keys, (client, second)):
        deadline = time.monotonic() + 120
        while not who.get(f"/plan/jobs/{key}.json").get_json()["finished"]:
            assert time.monotonic() < deadline, "job did not finish"
            time.sleep(0.2)
    statuses = [plan_queue.read_json(plan_queue.status_path(jobs_dir(db_path), key)) for key in keys]
    assert [s["state"] for s in statuses] == ["done", "done"]
    assert statuses[1]["started_at"] >= statuses[0]["finished_at"]
    assert sorted(layers(fresh_db)) == ["乙", "甲"]
    assert plan_queue.read_json(jobs_dir(db_path) / "queue.json")["jobs"] == []


def test_a_second_job_by_the_same_user_is_refused_with_a_link_to_the_first(app, client, auth, fresh_db, db_path,
                                                                          launched):
    app.config["YIZHAN_PLAN_BACKGROUND_CELLS"] = 0
    auth.login("planner")
    first = job_key(upload_demand(client))
    link = f'<a href="/plan/jobs/{first}">查看它的进度</a>'
    for answer in (upload_demand(client, name="另一层"), client.get("/plan", query_string=LONG),
                   client.post("/plan/candidates", data={
                       "csrf_token": csrf_token(client, "/plan"), "query": "minutes=12",
                       "file": (io.BytesIO(b"lon,lat\n116.4,39.9\n"), "c.csv")})):
        text = answer.get_data(as_text=True)
        assert answer.status_code == 409 and link in text and "每人同时只能有一项后台任务" in text
    assert re.search(r'name="name"[^>]*value="另一层"', upload_demand(client, name="另一层").get_data(as_text=True))
    assert len(launched) == 1 and len(list(jobs_dir(db_path).glob("*.upload"))) == 1  # nothing else kept
    plan_queue.main(launched[0][3:])
    assert job_key(upload_demand(client, name="另一层"))  # done: the next one is welcome


def test_a_job_whose_process_died_is_failed_and_frees_its_place(app, client, auth, second, fresh_db, db_path,
                                                               launched):
    app.config["YIZHAN_PLAN_JOBS_AT_ONCE"] = 1
    auth.login("planner")
    first = job_key(upload_demand(client))
    later = job_key(upload_demand(second, name="乙"))
    folder = jobs_dir(db_path)
    doomed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert plan_queue.take_turn(folder, first, pid=doomed.pid) == "run"
    assert plan_queue.take_turn(folder, later) == "wait"
    assert second.get(f"/plan/jobs/{later}.json").get_json()["ahead"] == 1
    doomed.kill()  # out of memory, say
    doomed.wait()
    status = second.get(f"/plan/jobs/{later}.json").get_json()
    assert status["state"] == "queued" and status["ahead"] == 0  # the dead one holds no place
    assert plan_queue.take_turn(folder, later) == "run"
    page = client.get(f"/plan/jobs/{first}").get_data(as_text=True)
    assert "读取文件的进程意外结束" in page
    assert client.get(f"/plan/jobs/{first}.json").get_json()["state"] == "failed"
    assert job_key(upload_demand(client, name="再试"))  # its user may try again


def test_a_waiting_job_costs_a_bare_interpreter():
    """The process a job starts in waits with the standard library only (no numpy, no
    geodata): eight queued jobs cost a few MB each, not a gigabyte."""
    code = "import sys, stations.plan_queue; print(sorted(m for m in ('numpy', 'pandas', 'flask', 'geodata', " \
           "'stations.coverage') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
