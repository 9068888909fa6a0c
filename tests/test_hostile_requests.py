"""What an attacker sends that is not about any one form: bodies the server cannot read,
requests for things that do not exist.  Every answer is a clear Chinese 4xx, never a 500."""

from __future__ import annotations

import io
import re

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize

from stations.accounts import tokens, users


class _BrokenBody(io.RawIOBase):
    """A request body that fails as gunicorn's reader does on bad chunked encoding."""

    def __init__(self, error):
        self.error = error

    def readable(self):
        return True

    def readinto(self, buffer):
        raise self.error


def _token(app, fresh_db):
    return tokens.issue_token(fresh_db, users.get_user(fresh_db, "admin")["id"])


@pytest.mark.parametrize("error", [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"xx")])
@pytest.mark.parametrize("path, kind", [("/api/v1/stations", "application/json"),
                                        ("/login", "application/x-www-form-urlencoded")])
def test_a_body_the_server_cannot_read_is_a_400(app, fresh_db, error, path, kind):
    headers = {"Content-Type": kind, "Authorization": f"Bearer {_token(app, fresh_db)}"}
    app.config["WTF_CSRF_ENABLED"] = path.startswith("/api/")  # reach the body on /login too
    response = app.test_client().post(path, headers=headers, environ_overrides={
        # as gunicorn passes a chunked body: no length, the stream ends itself
        "wsgi.input": _BrokenBody(error), "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "请求体无法读取" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/nope"), ("GET", "/api/v1/stations/999999x"),
                                          ("DELETE", "/api/v1/stations"), ("POST", "/api/v1/nearest")])
def test_api_errors_for_unknown_routes_and_methods_are_in_chinese(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code in (404, 405)
    message = response.get_json()["error"]["message"]
    assert re.search(r"[\u4e00-\u9fff]", message), message
    assert "requested URL" not in message and "not allowed" not in message


# --- wrong types in every field of every API body ------------------------------------

WRONG_TYPES = [[], ["x"], {}, {"a": []}, None, True, -1, 1e308, "\x00"]


def _json_operations():
    from stations.openapi import openapi_document

    document = openapi_document()
    schemas = document["components"]["schemas"]

    def properties(schema):
        if "$ref" in schema:
            return properties(schemas[schema["$ref"].rsplit("/", 1)[1]])
        found = dict(schema.get("properties", {}))
        for part in schema.get("oneOf", []) + schema.get("allOf", []):
            found.update(properties(part))
        return found

    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                fields = sorted(properties(content["application/json"]["schema"]))
                yield pytest.param(method.upper(), re.sub(r"\{[a-z_]+\}", "1", path), fields,
                                   id=f"{method.upper()} {path}")


@pytest.mark.parametrize("method, path, fields", list(_json_operations()))
def test_every_api_body_field_refuses_wrong_types_with_a_4xx(app, client, fresh_db, method, path, fields):
    from tests.conftest import make_station

    make_station(fresh_db)
    headers = {"Authorization": f"Bearer {_token(app, fresh_db)}"}
    client.post("/api/v1/campaigns", headers=headers, json={
        "name": "评选", "year": 2026, "level": "district", "quota": 3, "subsidy_yuan": 0,
        "reviewers_per_station": 1})
    assert fields, path
    failures = []
    for field in fields:
        for value in WRONG_TYPES:
            for body in ({field: value}, {name: value for name in fields}):
                response = client.open(path, method=method, json=body, headers=headers)
                if response.status_code >= 500:
                    failures.append((field, value, response.status_code))
    assert not failures, failures


# --- planner uploads: control characters at the door, formulas defused on the way out --

PLAN_QUERY = "minutes=15&cell_m=500&district=延庆区&run=1&p=3"
CANDIDATES = ("名称,经度,纬度\n"
              "=HYPERLINK(\"http://evil.example\"),115.937032,40.374896\n"
              "+SUM(1),115.765329,40.531451\n"
              "@cmd,115.777816,40.455019\n")


def _upload_candidates(client, auth, text):
    """The upload, read in its background job: the job's page at its end."""
    from tests.conftest import csrf_token, finish_plan_job

    auth.login("planner")
    return finish_plan_job(client, client.post("/plan/candidates", data={
        "csrf_token": csrf_token(client, "/plan"), "query": PLAN_QUERY,
        "file": (io.BytesIO(text.encode()), "candidates.csv")}))


@pytest.mark.usefixtures("inline_plan_jobs")
def test_candidate_names_with_control_characters_are_refused(client, auth):
    response = _upload_candidates(client, auth, "名称,经度,纬度\n\x00站\x07,115.937032,40.374896\n")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "控制字符 U+0000" in text and "\x00" not in text


@pytest.mark.usefixtures("inline_plan_jobs")
def test_plan_downloads_defuse_formula_like_names(client, auth):
    response = _upload_candidates(client, auth, CANDIDATES)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    key = re.search(r"candidates=([0-9a-f]+)", response.headers["Location"]).group(1)
    body = client.get(f"/plan/suggestions.csv?{PLAN_QUERY}&candidates={key}").get_data(as_text=True)
    # columns: 序号,经度,纬度,区,候选点名称,新增需求,累计覆盖需求,累计覆盖率,坐标系 (issue 18, item 8)
    names = [line.split(",", 4)[4].rsplit(",", 4)[0] for line in body.splitlines()[1:]]
    assert sorted(names) == sorted(["'+SUM(1)", "'@cmd", "\"'=HYPERLINK(\"\"http://evil.example\"\")\""]), body


# --- guessing API tokens meets the failed-login limit ----------------------------------

def test_unknown_bearer_tokens_meet_the_client_login_limit(app, client, fresh_db):
    from tests.conftest import PASSWORDS, csrf_token

    app.config["YIZHAN_LOGIN_FAILS_PER_CLIENT"] = 3
    good = {"Authorization": f"Bearer {_token(app, fresh_db)}"}
    answers = [client.get("/api/v1/coverage?minutes=5",
                          headers={"Authorization": f"Bearer yz_guess{i}"}) for i in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.get_json()["error"]["message"]
    assert "请先登录" in answers[0].get_json()["error"]["message"]
    # one budget per client: password guesses from it are refused too (no scrypt spent)
    login = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                        "csrf_token": csrf_token(client)})
    assert login.status_code == 429
    # a live token is no guess: it keeps working
    assert client.get("/api/v1/coverage?minutes=5", headers=good).status_code == 200


# --- one union cannot walk photo ids to see another union's nomination photos -----------

def test_a_union_sees_only_its_own_unions_nomination_photos(app, client, fresh_db):
    from PIL import Image

    from tests.conftest import make_station

    db = fresh_db
    users.add_user(db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    users.add_user(db, "hd", "union-pass-2", "union", "海淀区总工会", create_union=True)
    own = make_station(db, name="东城驿站", host_union="东城区总工会")
    admin = {"Authorization": f"Bearer {_token(app, db)}"}
    campaign = client.post("/api/v1/campaigns", headers=admin, json={
        "name": "评选", "year": 2026, "level": "district", "quota": 3, "subsidy_yuan": 0,
        "reviewers_per_station": 1}).get_json()["id"]
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(image, "JPEG")
    dc = {"Authorization": f"Bearer {tokens.issue_token(db, users.get_user(db, 'dc')['id'])}"}
    sent = client.post(f"/api/v1/campaigns/{campaign}/nominations", headers=dc, content_type="multipart/form-data",
                       data={"station_id": str(own), "reason": "带照片的推荐理由",
                             "photos": [(io.BytesIO(image.getvalue()), "a.jpg")]})
    assert sent.status_code == 201, sent.get_json()
    photo = db.execute("SELECT id FROM nomination_photos").fetchone()[0]
    url = f"/campaigns/{campaign}/photos/{photo}"

    def seen_by(name, password):
        viewer = app.test_client()
        from tests.conftest import csrf_token

        viewer.post("/login", data={"username": name, "password": password,
                                    "csrf_token": csrf_token(viewer)})
        with viewer.get(url) as answer:  # send_file's open file closed with the answer
            if answer.status_code == 200:  # never kept by a shared cache for others
                assert "private" in answer.headers["Cache-Control"]
                assert "public" not in answer.headers["Cache-Control"]
            return answer.status_code

    assert seen_by("dc", "union-pass-1") == 200
    assert seen_by("admin", "admin-pass-1") == 200
    assert seen_by("reviewer", "review-pass-1") == 200
    assert seen_by("hd", "union-pass-2") == 404  # another union's: as if there were none


@pytest.mark.parametrize("target", ["/\r\n//evil.example", "/\nSet-Cookie: a=b", "/admin\x00", "/\x7f"])
def test_a_login_next_with_control_characters_goes_home_not_500(client, target):
    from tests.conftest import PASSWORDS, csrf_token

    response = client.post("/login", query_string={"next": target}, data={
        "username": "admin", "password": PASSWORDS["admin"], "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"


# --- one planner's big grid does not stall the server ----------------------------------

def test_a_big_coverage_grid_does_not_stall_other_requests(tmp_path):
    """Under gevent workers a grid computation used to hold its worker's loop for its
    whole run (two of them: /healthz waited 14.7 s).  One worker here, so a stall
    would hold every request."""
    import os
    import subprocess
    import threading
    import time
    import urllib.request

    from stations import serve
    from tests.test_serving import http_get, served

    env = dict(os.environ, YIZHAN_DB=str(tmp_path / "yizhan.db"), YIZHAN_SECRET_KEY="test-secret",
               WEB_CONCURRENCY="1")
    cli = [os.path.join(os.path.dirname(serve.sys.executable), "yizhan")]
    subprocess.run(cli + ["init"], env=env, check=True, capture_output=True)
    subprocess.run(cli + ["demo", "--stations", "500", "--ledger-days", "0"], env=env, check=True,
                   capture_output=True)
    subprocess.run(cli + ["user", "add", "pl", "--role", "planner", "--password-stdin"], env=env, check=True,
                   input="plan-pass-1\n", text=True, capture_output=True)
    token = subprocess.run(cli + ["user", "token", "pl"], env=env, check=True, capture_output=True,
                           text=True).stdout.split()[-1]
    with served(tmp_path, env) as port:
        answer = {}

        def big():  # every district, 64 m cells, a 92 km circle: seconds of scipy work
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/coverage?minutes=120&mode=ebike&speed_kmh=60&cell_m=64",
                headers={"Authorization": f"Bearer {token}"})
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                answer["status"], answer["seconds"] = response.status, time.perf_counter() - started

        worker = threading.Thread(target=big)
        worker.start()
        time.sleep(0.5)
        waits = []
        while worker.is_alive():
            waits.append(http_get(port, timeout=30)[1])
            time.sleep(0.2)
        worker.join()
        assert answer["status"] == 200
        assert answer["seconds"] > 2, answer  # it was long enough to show a stall
        assert waits and max(waits) < 1.0, (max(waits), answer)


# --- maps: text kept from before the door's rule cannot block the map's scripts ---------

def test_control_characters_in_kept_candidates_do_not_break_the_plan_map(app, client, auth, db_path):
    """A browser reads NUL in an inline script as U+FFFD and CR as LF; the script then
    no longer matches its CSP hash and the map is blocked (a kept candidate set from
    before the door refused control characters did this)."""
    import base64
    import hashlib
    import json

    from stations.coverage.candidates import candidates_dir

    folder = candidates_dir(str(db_path))
    folder.mkdir(parents=True, exist_ok=True)
    key = "0123456789abcdef"
    (folder / f"{key}.json").write_text(json.dumps({
        "filename": "old.csv", "datum": "wgs84", "lons": [115.937032, 115.765329], "lats": [40.374896, 40.531451],
        "names": ["\x00旧站\x07", "回车\r\n换行\r站"]}), encoding="utf-8")
    auth.login("planner")
    response = client.get(f"/plan/map?minutes=15&cell_m=500&district=延庆区&p=2&candidates={key}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "旧站" in page and "换行" in page  # the suggestions are on the map
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", page)
    policy = response.headers["Content-Security-Policy"]
    for script in re.findall(r"<script>(.*?)</script>", page, re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


def test_the_station_export_names_its_charset_once(client, auth):
    auth.login("admin")
    answer = client.get("/admin/export/download?format=csv")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
