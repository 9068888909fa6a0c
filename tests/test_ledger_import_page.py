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
    users.add_user(fresh_db, "hd", "hd-pass-12", "union", "海淀区总工会")
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
