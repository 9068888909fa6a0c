"""Shared fixtures: an app over a temporary database file, clients, and helpers."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from stations import storage
from stations.accounts import users
from stations.cli import register_commands
from stations.web import create_app

PASSWORDS = {"admin": "admin-pass-1", "reviewer": "review-pass-1", "planner": "plan-pass-1"}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "yizhan.db"


@pytest.fixture
def fresh_db(db_path):
    """A migrated, empty database file."""
    db = storage.connect(db_path)
    storage.migrate(db)
    yield db
    db.conn.close()


class ClosingClient(FlaskClient):
    """The test client, closing each request's body once answered: werkzeug's test
    client spools a body over 500 KB (an uploaded extract, a big import) into a
    temporary file it never closes, and the garbage collector's warning about it lands
    in whichever test runs next."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        for answered in (*getattr(response, "history", ()), response):  # redirects followed too
            request = getattr(answered, "request", None)
            body = request.environ.get("wsgi.input") if request is not None else None
            if body is not None and hasattr(body, "close"):
                body.close()
        return response


@pytest.fixture
def app(db_path, fresh_db):
    for role, password in PASSWORDS.items():
        users.add_user(fresh_db, role, password, role,
                       "海淀区总工会" if role == "reviewer" else None, create_union=True)
    app = register_commands(create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                                        "YIZHAN_SECRET_KEY": "test-secret"}))
    app.test_client_class = ClosingClient
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, role="admin"):
        token = csrf_token(self.client)
        response = self.client.post("/login", data={"username": role, "password": PASSWORDS[role],
                                                    "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/stations")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def make_station(db, **fields) -> int:
    """Store one station directly (WGS-84), defaults near Tiananmen in 东城区."""
    record = {"name": "测试驿站", "address": "北京市东城区东长安街1号", "lon": 116.3975,
              "lat": 39.9087, "district": "东城区", "hours": "Mo-Su 08:00-20:00",
              "facilities": ["water", "microwave"], "status": "active",
              "manager": "张三", "manager_phone": "13800138000"}
    record.update(fields)
    return storage.insert_stations(db, [record], username="test")[0]


def _follow_job(client, response, timeout, what, page_pattern=None):
    """Follow an upload's 303 to its job page until the job ends; the job page then."""
    import time

    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    page = response.headers["Location"]
    if page_pattern:
        assert re.fullmatch(page_pattern, page), page
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(page + ".json").get_json()
        if status["finished"]:
            return client.get(page)
        assert time.monotonic() < deadline, f"{what} still {status['state']} after {timeout} s"
        time.sleep(0.1)


def finish_import(client, response, timeout=90.0):
    """Follow an import upload (303 to its job) until the job ends; the job page then."""
    return _follow_job(client, response, timeout, "import job")


@pytest.fixture
def inline_plan_jobs(monkeypatch):
    """/plan's background jobs (stations.plan_queue) run inside the request that queues them;
    other detached commands start as usual.  The queue tests start real processes."""
    from stations import jobs, plan_queue

    detached = jobs.start_detached

    def start(command, log):
        if command[1:3] == ["-m", "stations.plan_queue"]:
            plan_queue.main(command[3:])
        else:
            detached(command, log)

    monkeypatch.setattr(jobs, "start_detached", start)


def finish_plan_job(client, response, timeout=90.0):
    """Follow a /plan upload or long computation (303 to its job's page) until the job
    ends; the job's page then (not followed further)."""
    return _follow_job(client, response, timeout, "/plan job", r"/plan/jobs/[0-9a-f]{16}")
