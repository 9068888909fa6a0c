"""Issue 10, the remaining organiser points: hours kept as typed (15), a private note
from a 备注 column (22), district unions' spreadsheets (22), duplicate rows naming the
columns that clash (23), the import report's links, one-click import of the valid rows
and exports from the web (20)."""

import io
import json
import re

import pytest
from openpyxl import Workbook, load_workbook

from stations import storage
from stations.coords import parse_coordinate
from stations.importer import import_file
from tests.conftest import csrf_token, finish_import, make_station
from tests.test_web_admin import GOOD_FORM

TYPED = "周一至周五 8:00-20:00，周末休息"


@pytest.fixture
def admin(client, auth):
    auth.login("admin")
    return client


def html(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def post_form(client, path, **changes):
    data = dict(GOOD_FORM, **changes)
    data["csrf_token"] = csrf_token(client, path)
    return client.post(path, data=data)


# --- 15: the hours as the organiser typed them ---------------------------------------

def test_typed_hours_come_back_in_the_form_and_reach_riders(admin, client, fresh_db):
    response = post_form(admin, "/admin/stations/new", hours=TYPED, note="王师傅 13911112222 钥匙在门卫")
    assert response.status_code == 302, response.get_data(as_text=True)
    sid = int(response.headers["Location"].rsplit("/", 1)[1])
    form = html(admin, f"/admin/stations/{sid}/edit")
    assert f'value="{TYPED}"' in form
    assert "王师傅 13911112222 钥匙在门卫</textarea>" in form
    assert TYPED in html(admin, f"/admin/stations/{sid}")
    # The machine form stays for machines; riders read the words the organiser wrote.
    stored = storage.get_station(fresh_db, sid)
    assert stored["hours"] == "Mo-Fr 08:00-20:00" and stored["hours_text"] == TYPED
    feature = client.get(f"/api/v1/stations/{sid}").get_json()
    assert feature["properties"]["hours"] == stored["hours"]
    assert feature["properties"]["hours_text"] == TYPED
    page = html(client, f"/stations/{sid}")
    assert f"<dt>开放时间</dt><dd>{TYPED}</dd>" in page


def test_machine_hours_keep_no_typed_text_and_new_hours_drop_the_old_words(admin, fresh_db):
    sid = make_station(fresh_db, hours="Mo-Fr 08:00-20:00")
    post_form(admin, f"/admin/stations/{sid}/edit", hours="Mo-Fr 08:00-20:00")
    assert storage.get_station(fresh_db, sid)["hours_text"] is None
    post_form(admin, f"/admin/stations/{sid}/edit", hours=TYPED)
    assert storage.get_station(fresh_db, sid)["hours_text"] == TYPED
    storage.update_station(fresh_db, sid, {"hours": "24/7"})  # e.g. a script, or a restore
    assert storage.get_station(fresh_db, sid)["hours_text"] is None
    assert 'value="24小时"' in html(admin, f"/admin/stations/{sid}/edit")


def test_history_shows_the_hours_as_typed(admin, fresh_db):
    sid = make_station(fresh_db, hours="Mo-Su 08:00-20:00")
    post_form(admin, f"/admin/stations/{sid}/edit", hours=TYPED)
    history = re.search(r'<ol class="history">(.*?)</ol>', html(admin, f"/admin/stations/{sid}"),
                        re.S).group(1)
    assert f"<b>开放时间</b>：每天 08:00-20:00 → {TYPED}" in history
    assert "hours_text" not in history and "原文" not in history


# --- the note is private ---------------------------------------------------------------

def test_note_never_reaches_the_public(admin, client, fresh_db, auth):
    sid = make_station(fresh_db, note="联系人李四 13700001111")
    assert "李四" in html(admin, f"/admin/stations/{sid}")
    auth.logout()
    for path in (f"/stations/{sid}", f"/api/v1/stations/{sid}", "/api/v1/stations",
                 "/api/v1/nearest?lon=116.3975&lat=39.9087", "/stations"):
        body = client.get(path).get_data(as_text=True)
        assert "李四" not in body and "13700001111" not in body, path
