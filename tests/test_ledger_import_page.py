"""The month import's page says what happened (issue 18, item 14): an import that wrote
nothing does not read 已完成; a passing check offers to import the same file; the job
comes first on the page (a phone sees it without scrolling); no total while counting."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest

from stations import jobs, ledger
from stations.accounts import users
from tests.conftest import csrf_token, finish_import, make_station


@pytest.fixture
def keeper(client, fresh_db):
    users.add_user(fresh_db, "hd", "hd-pass-12", "union", "海淀区总工会", create_union=True)
    sid = make_station(fresh_db, name="海淀驿站", district="海淀区", host_union="海淀区总工会")
    token = csrf_token(client)
    assert client.post("/login", data={"username": "hd", "password": "hd-pass-12",
                                       "csrf_token": token}).status_code == 302
    return sid


def upload(client, text, name="m.csv", **form):
    token = csrf_token(client, "/ledger/import")
    return finish_import(client, client.post("/ledger/import", data={
        "csrf_token": token, "file": (io.BytesIO(text.encode()), name), **form}, content_type="multipart/form-data"))


def test_an_import_that_wrote_nothing_says_so_and_a_passing_check_imports_the_same_file(client, fresh_db, keeper):
    day = (ledger.today() - timedelta(days=2)).isoformat()
    bad = upload(client, f"站点编号,日期,外卖骑手\n{keeper},{day},-3\n").get_data(as_text=True)
    assert "状态：有错误，未写入任何数据" in bad and "状态：已完成" not in bad
    checked = upload(client, f"站点编号,日期,外卖骑手\n{keeper},{day},3\n", "good.csv", dry_run="1")
    page = checked.get_data(as_text=True)
    assert "状态：检查通过（只检查，未写入）" in page
    # the job and its report come before the intro and the upload form
    assert page.index('id="job"') < page.index('id="report"') < page.index('name="file"')
    assert "检查通过：正式导入这个文件（1 行）" in page
    job_id = re.search(r"/ledger/import/jobs/(\d+)/write", page).group(1)
    token = csrf_token(client, f"/ledger/import/jobs/{job_id}")
    done = finish_import(client, client.post(f"/ledger/import/jobs/{job_id}/write", data={"csrf_token": token}))
    html = done.get_data(as_text=True)
    assert "状态：已完成：写入 1 天" in html and "已写入 1 天的台账" in html
    assert [e["visitors"]["rider"] for e in ledger.get_entries(fresh_db, keeper)] == [3]
    again = client.post(f"/ledger/import/jobs/{job_id}/write", data={"csrf_token": token}, follow_redirects=True)
    assert "已经导入过" in again.get_data(as_text=True)
    listed = client.get("/ledger/import").get_data(as_text=True)
    assert "m.csv</a>\n    — 已结束，未写入" in listed


def test_no_total_is_claimed_while_rows_are_still_counted(db_path, fresh_db):
    jobs.uploads_dir(db_path).mkdir(parents=True, exist_ok=True)
    progress = jobs._Progress(db_path, 7)
    progress("check", 50_000, None)
    state = json.loads(progress.path.read_text())
    assert state["rows_done"] == 50_000 and state["rows_total"] is None  # was 50000: "共 50000 行"


def test_reports_name_the_file_encoding_and_datum_in_words_not_codes(client, fresh_db, keeper, auth):
    """"utf-8-sig", "wgs84" and "格式 ?" were shown to people (issue 18, item 17)."""
    from stations.registry.importer import format_report, import_file

    day = (ledger.today() - timedelta(days=2)).isoformat()
    page = upload(client, f"站点编号,日期,外卖骑手\n{keeper},{day},3\n").get_data(as_text=True)
    assert "CSV 文本（UTF-8 编码）" in page and "utf-8-sig" not in page and "格式 csv" not in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/ledger/import")})
    auth.login("admin")
    token = csrf_token(client, "/admin/import")
    station = finish_import(client, client.post("/admin/import", data={
        "csrf_token": token, "datum": "wgs84", "dry_run": "1",
        "file": (io.BytesIO("名称,经度,纬度\n新驿站,116.4,39.9\n".encode()), "s.csv")},
        content_type="multipart/form-data")).get_data(as_text=True)
    assert "CSV 文本（UTF-8 编码），坐标系 WGS-84（GPS）" in station
    assert "utf-8-sig" not in station and "坐标系 wgs84" not in station
    text = format_report(import_file(fresh_db, b"", "empty.csv"))
    assert "未能识别" in text and "?" not in text
