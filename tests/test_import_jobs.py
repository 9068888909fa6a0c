"""Web imports run as background jobs in a process of their own: upload, job page with
progress, report at the end; the command line shows a progress bar."""

import io
import subprocess
import time

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from stations import jobs, storage
from stations.registry.demo import generate_stations
from stations.registry.exporter import export_stations
from tests.conftest import csrf_token, finish_import

GOOD = ("名称,地址,经度,纬度,开放时间\n"
        "朝阳门暖心驿站,北京市东城区朝阳门内大街1号,116.4280,39.9240,周一至周五 08:00-20:00\n"
        "国贸驿站,北京市朝阳区建国门外大街1号,116.4600,39.9090,24小时\n").encode()


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def post(client, data, filename="stations.csv", **fields):
    form = {"csrf_token": csrf_token(client, "/admin/import"), "datum": "wgs84",
            "file": FileStorage(io.BytesIO(data), filename), **fields}
    boundary, body = encode_multipart(form)  # in memory: big bodies leave no temporary file
    return client.post("/admin/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def demo_csv(n):
    out = io.BytesIO()
    export_stations(generate_stations(n, seed=7), "csv", out)
    return out.getvalue()


def test_an_upload_becomes_a_job_whose_page_ends_with_the_report(admin, fresh_db, db_path):
    response = post(admin, GOOD)
    assert response.status_code == 303
    job_page = response.headers["Location"]
    assert job_page.startswith("/admin/import/jobs/")
    page = finish_import(admin, response).get_data(as_text=True)
    assert "状态：已完成" in page and "已写入 2 个站点" in page and "共 2 行" in page
    assert {s["name"] for s in storage.iter_stations(fresh_db)} == {"朝阳门暖心驿站", "国贸驿站"}
    status = admin.get(job_page + ".json").get_json()
    assert status["state"] == "done" and status["written"] == 2 and status["finished"]
    # The upload does not linger; the import page lists the job.
    assert not list(jobs.uploads_dir(db_path).glob("upload-*"))
    listing = admin.get("/admin/import").get_data(as_text=True)
    assert f'href="{job_page}"' in listing and "stations.csv" in listing
    history = fresh_db.execute("SELECT DISTINCT username, action FROM station_history").fetchall()
    assert history == [("admin", "import")]


def test_a_broken_file_ends_as_a_failed_job_with_the_reason(admin, fresh_db):
    page = finish_import(admin, post(admin, b"PK\x03\x04broken", "list.xlsx")).get_data(as_text=True)
    assert "状态：失败" in page and "无法读取 XLSX" in page and "未写入任何数据" in page
    assert storage.count_stations(fresh_db) == 0


def test_rows_with_errors_are_reported_and_options_reach_the_job(admin, fresh_db):
    bad = GOOD + "坏行驿站,某地,不是数字,39.9,\n".encode()
    page = finish_import(admin, post(admin, bad)).get_data(as_text=True)
    assert "<td>4</td><td>坏行驿站</td><td>经度</td><td>错误</td>" in page
    assert "因存在错误，未写入任何数据" in page and storage.count_stations(fresh_db) == 0
    page = finish_import(admin, post(admin, bad, dry_run="1")).get_data(as_text=True)
    assert "试运行：未写入任何数据" in page and storage.count_stations(fresh_db) == 0
    page = finish_import(admin, post(admin, bad, skip_invalid="1")).get_data(as_text=True)
    assert "已写入 2 个站点" in page and storage.count_stations(fresh_db) == 2


def test_the_worker_answers_before_a_big_import_is_done_and_the_page_shows_progress(admin, fresh_db):
    response = post(admin, demo_csv(20_000), "big.csv")
    assert response.status_code == 303
    job_page = response.headers["Location"]
    status = admin.get(job_page + ".json").get_json()
    assert not status["finished"] and status["state"] in ("queued", "running")
    seen = set()
    while not status["finished"]:
        page = admin.get(job_page)
        text = page.get_data(as_text=True)
        if 'data-state="running"' in text or 'data-state="queued"' in text:
            assert page.headers.get("Refresh") == "2"  # the page refreshes itself meanwhile
        if "正在检查：已检查" in text or "正在写入：已写入" in text:
            seen.add("progress")
        status = admin.get(job_page + ".json").get_json()
        time.sleep(0.2)
    assert status["state"] == "done" and status["written"] == 20_000
    assert "progress" in seen and "Refresh" not in admin.get(job_page).headers
    assert storage.count_stations(fresh_db) == 20_000


def test_a_job_whose_process_died_is_reported_as_failed(admin, fresh_db, db_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    job_id = jobs.create_job(fresh_db, filename="lost.csv", upload=db_path.parent / "gone",
                             options={"datum": "wgs84"}, username="admin")
    with storage.write_transaction(fresh_db):
        fresh_db.execute("UPDATE import_jobs SET state = 'running', pid = ? WHERE id = ?", [dead.pid, job_id])
    page = admin.get(f"/admin/import/jobs/{job_id}").get_data(as_text=True)
    assert "状态：失败" in page and "导入进程意外结束" in page


def test_jobs_are_for_admins_only(client, auth, fresh_db, db_path):
    job_id = jobs.create_job(fresh_db, filename="x.csv", upload=db_path.parent / "x",
                             options={}, username="admin")
    assert client.get(f"/admin/import/jobs/{job_id}").status_code == 302  # to the login page
    auth.login("planner")
    assert client.get(f"/admin/import/jobs/{job_id}").status_code == 403
    assert client.get(f"/admin/import/jobs/{job_id}.json").status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.get(f"/admin/import/jobs/{job_id + 1}").status_code == 404


def test_the_cli_shows_a_progress_bar_for_long_imports(app, tmp_path, fresh_db):
    path = tmp_path / "big.csv"
    path.write_bytes(demo_csv(6_000))
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "检查" in result.stderr and "写入" in result.stderr
    assert "已写入 6000 个站点" in result.stdout
    small = tmp_path / "small.csv"
    small.write_bytes(GOOD)
    result = app.test_cli_runner().invoke(args=["import", str(small), "--dry-run"])
    assert "检查" not in result.stderr and "试运行" in result.stdout
