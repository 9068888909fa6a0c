"""Failed logins are limited per account and per client, on the form and on API Basic auth."""

import base64
import hashlib
import logging

import pytest

from stations.accounts import limits
from stations.web import create_app
from tests.conftest import PASSWORDS, csrf_token

WINDOW_S = 15 * 60


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    # 100 s into a 15-minute window, so the sliding windows' arithmetic is known
    fake = Clock(WINDOW_S * 2_000_000 + 100)
    monkeypatch.setattr(limits, "clock", fake)
    return fake


@pytest.fixture
def scrypt_calls(monkeypatch):
    calls = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def make_app(db_path, per_account=3, per_client=5):
    return create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "test-secret",
                       "YIZHAN_LOGIN_FAILS_PER_ACCOUNT": per_account,
                       "YIZHAN_LOGIN_FAILS_PER_CLIENT": per_client,
                       "YIZHAN_LOGIN_WINDOW_MINUTES": WINDOW_S // 60})


@pytest.fixture
def limited(app, db_path, clock):
    return make_app(db_path)


def login(client, username, password, address="10.0.0.1"):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def api_create(client, user, password, address="10.0.0.1"):
    return client.post("/api/v1/stations", headers=basic(user, password),
                       json={"name": "接口站", "lon": 116.4, "lat": 39.9},
                       environ_base={"REMOTE_ADDR": address})


def test_past_the_limit_even_the_right_password_gets_429_and_no_scrypt(limited, scrypt_calls, caplog):
    client = limited.test_client()
    for _ in range(3):
        assert login(client, "admin", "guess-123").status_code == 401
    spent = len(scrypt_calls)
    assert spent == 3
    with caplog.at_level(logging.WARNING):
        refused = login(client, "admin", PASSWORDS["admin"])
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert len(scrypt_calls) == spent  # the refused attempt hashed nothing
    assert int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in html and "分钟后再试" in html
    assert 'value="admin"' in html  # the typed name is kept
    assert client.get("/admin").status_code == 302  # and nobody is logged in
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "too many failed logins" in warnings[0].getMessage()
    assert "'admin'" in warnings[0].getMessage()
    assert PASSWORDS["admin"] not in caplog.text and "10.0.0.1" not in caplog.text


def test_basic_auth_on_the_api_gets_429_with_a_json_error(limited, scrypt_calls):
    client = limited.test_client()
    for _ in range(3):
        assert api_create(client, "admin", "guess-123").status_code == 401
    spent = len(scrypt_calls)
    refused = api_create(client, "admin", PASSWORDS["admin"])
    assert refused.status_code == 429 and len(scrypt_calls) == spent
    error = refused.get_json()["error"]
    assert error["status"] == 429 and "登录失败次数过多" in error["message"]
    assert error["retry_after"] == int(refused.headers["Retry-After"]) > 0


def test_the_form_and_basic_auth_share_the_counts(limited):
    client = limited.test_client()
    login(client, "admin", "guess-123")
    api_create(client, "admin", "guess-123")
    login(client, "admin", "guess-123")
    assert api_create(client, "admin", PASSWORDS["admin"]).status_code == 429


def test_an_account_limit_holds_for_every_client_but_not_for_other_accounts(limited):
    attacker = limited.test_client()
    for _ in range(3):
        login(attacker, "admin", "guess-123", address="10.0.0.1")
    # the attacked account is closed to every address for now ...
    assert login(limited.test_client(), "admin", PASSWORDS["admin"], address="10.9.9.9").status_code == 429
    # ... other accounts are not, even from the attacker's address (its own limit is 5)
    assert login(attacker, "planner", PASSWORDS["planner"], address="10.0.0.1").status_code == 302


def test_a_client_limit_covers_every_account_name_and_only_that_client(limited):
    attacker = limited.test_client()
    for n in range(5):
        assert login(attacker, f"name{n}", "guess-123", address="10.0.0.1").status_code == 401
    assert login(attacker, "reviewer", PASSWORDS["reviewer"], address="10.0.0.1").status_code == 429
    other = limited.test_client()
    assert login(other, "reviewer", PASSWORDS["reviewer"], address="10.0.0.2").status_code == 302


def test_a_known_password_cannot_be_used_to_keep_guessing(app, db_path, clock, scrypt_calls):
    # The attacker knows the planner's password and logs in with it between guesses at admin.
    limited = make_app(db_path, per_account=100, per_client=5)
    attacker = limited.test_client()
    codes = []
    for _ in range(3):
        codes.append(login(attacker, "admin", "guess-123").status_code)
        codes.append(login(attacker, "admin", "guess-456").status_code)
        codes.append(login(attacker, "planner", PASSWORDS["planner"]).status_code)
    # Past the client limit the planner, who signed in from here, still gets in (a shared
    # office address); the guesses at admin stay refused, unhashed, logins between or not.
    assert codes == [401, 401, 302, 401, 401, 302, 401, 429, 302]
    spent = len(scrypt_calls)
    for _ in range(5):
        assert login(attacker, "admin", "guess-789").status_code == 429
        assert login(attacker, "planner", PASSWORDS["planner"]).status_code == 302
    assert len(scrypt_calls) == spent + 5  # the planner's five logins, no guess at admin
    assert login(attacker, "admin", PASSWORDS["admin"]).status_code == 429


def test_the_limit_expires_after_the_window(limited, clock):
    client = limited.test_client()
    for _ in range(3):
        login(client, "admin", "guess-123")
    refused = login(client, "admin", PASSWORDS["admin"])
    wait = int(refused.headers["Retry-After"])
    assert 60 < wait <= 2 * WINDOW_S
    clock.now += wait - 60
    assert login(client, "admin", PASSWORDS["admin"]).status_code == 429
    clock.now += 61
    assert login(client, "admin", PASSWORDS["admin"]).status_code == 302


def test_counters_store_no_address_and_no_typed_name(limited, fresh_db):
    client = limited.test_client()
    login(client, "secret-name-typed", "guess-123", address="203.0.113.77")
    rows = " ".join(r[0] for r in fresh_db.execute("SELECT bucket FROM rate_limits"))
    assert rows and "203.0.113.77" not in rows and "secret-name-typed" not in rows


def test_a_refused_login_writes_no_session(limited, fresh_db):
    client = limited.test_client()
    for _ in range(3):
        login(client, "admin", "guess-123")
    login(client, "admin", PASSWORDS["admin"])
    assert fresh_db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_many_correct_basic_auth_calls_at_once_are_never_refused(app, db_path):
    # An API script with a dozen threads and the right password: successes are not
    # failures, whatever the timing (each call hashes for tens of milliseconds).
    from concurrent.futures import ThreadPoolExecutor

    limited_app = make_app(db_path, per_account=3, per_client=5)

    def call(i):
        client = limited_app.test_client()
        return client.post("/api/v1/stations", headers=basic("admin", PASSWORDS["admin"]),
                           json={"name": f"并发站{i}", "lon": 116.3 + i * 0.01, "lat": 39.9},
                           environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(call, range(24)))
    assert codes == [201] * 24


# --- a shared address (a union office behind one NAT) ---------------------------------

def default_limits(db_path):
    """The shipped limits: 10 failures per account name, 30 per client, 15 minutes."""
    return create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "test-secret"})


def test_after_31_failures_from_an_office_its_staff_still_log_in_and_guesses_get_429(app, db_path, clock,
                                                                                  scrypt_calls):
    office = default_limits(db_path)
    colleague = office.test_client()
    assert login(colleague, "admin", PASSWORDS["admin"]).status_code == 302  # an ordinary morning
    colleague.post("/logout", data={"csrf_token": csrf_token(colleague, "/stations")})
    broken = office.test_client()  # one machine in the office keeps failing
    codes = [login(broken, f"name{n % 5}", "guess-123").status_code for n in range(31)]
    assert codes == [401] * 30 + [429]
    # the right password of an account used from this office logs in ...
    response = login(colleague, "admin", PASSWORDS["admin"])
    assert response.status_code == 302 and colleague.get("/admin").status_code == 200
    # ... a wrong one is still refused with 429, and counted against that account
    refused = login(office.test_client(), "admin", "guess-456")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # an account never signed in from here meets the client limit as before: no hashing
    spent = len(scrypt_calls)
    assert login(office.test_client(), "planner", PASSWORDS["planner"]).status_code == 429
    assert login(office.test_client(), "no-such-user", "guess-789").status_code == 429
    assert len(scrypt_calls) == spent
    # from another address nothing changed
    assert login(office.test_client(), "planner", PASSWORDS["planner"], address="10.0.0.2").status_code == 302


def test_guesses_past_the_client_limit_at_a_known_account_meet_its_account_limit(app, db_path, clock):
    limited = make_app(db_path, per_account=3, per_client=2)
    client = limited.test_client()
    assert login(client, "admin", PASSWORDS["admin"]).status_code == 302
    assert [login(client, f"x{n}", "guess").status_code for n in range(3)] == [401, 401, 429]
    assert [login(client, "admin", f"guess-{n}").status_code for n in range(4)] == [429] * 4
    # three wrong guesses at admin were checked and counted: its account limit is reached,
    # so now even the right password waits, from this address and every other
    assert login(client, "admin", PASSWORDS["admin"]).status_code == 429
    assert login(limited.test_client(), "admin", PASSWORDS["admin"], address="10.0.0.9").status_code == 429


def test_basic_auth_from_a_known_office_passes_the_client_limit(app, db_path, clock):
    limited = make_app(db_path, per_account=3, per_client=2)
    client = limited.test_client()
    assert api_create(client, "admin", PASSWORDS["admin"]).status_code == 201
    for n in range(2):
        assert api_create(client, f"x{n}", "guess").status_code == 401
    assert api_create(client, "x9", "guess").status_code == 429
    again = client.post("/api/v1/stations", headers=basic("admin", PASSWORDS["admin"]),
                        json={"name": "又一接口站", "lon": 116.5, "lat": 39.95},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert again.status_code == 201, again.get_data(as_text=True)


def test_a_known_account_is_remembered_once_a_month_without_names_or_addresses(app, db_path, fresh_db, clock):
    limited = make_app(db_path)
    client = limited.test_client()
    for _ in range(3):
        assert login(client, "admin", PASSWORDS["admin"], address="203.0.113.77").status_code == 302
    rows = fresh_db.execute("SELECT bucket, count FROM rate_limits WHERE bucket LIKE 'login-known:%'").fetchall()
    assert len(rows) == 1 and rows[0][1] == 1  # one write, not one per login
    assert "203.0.113.77" not in rows[0][0] and "admin" not in rows[0][0]
    # two months later the account is no longer known there
    clock.now += 61 * 86400
    for n in range(5):
        login(client, f"x{n}", "guess", address="203.0.113.77")
    assert login(client, "admin", PASSWORDS["admin"], address="203.0.113.77").status_code == 429
