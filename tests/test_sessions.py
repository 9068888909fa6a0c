"""Sessions end on the server: logout, a password change and a role change kill saved cookies."""

import base64
from urllib.parse import urlsplit

from stations.accounts import users
from tests.conftest import PASSWORDS, csrf_token, make_station

PHONE = "13912345678"


def login(client, username, password):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie):
    """A new browser that only has the saved cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_a_cookie_saved_before_logout_opens_nothing(app, client, auth, fresh_db):
    sid = make_station(fresh_db, name="某站", manager_phone=PHONE)
    auth.login("admin")
    cookie = saved_cookie(client)
    assert PHONE in client.get(f"/admin/stations/{sid}").get_data(as_text=True)
    assert replay(app, cookie).get("/admin").status_code == 200  # the copy works while logged in
    auth.logout()
    thief = replay(app, cookie)
    assert sent_to_login(thief.get("/admin"))
    page = thief.get(f"/admin/stations/{sid}")
    assert sent_to_login(page) and PHONE not in page.get_data(as_text=True)
    api = thief.post("/api/v1/stations", json={"name": "偷建的站", "lon": 116.4, "lat": 39.9})
    assert api.status_code == 401
    assert "偷建的站" not in client.get("/stations").get_data(as_text=True)


def test_logout_ends_only_that_session(app, auth, client):
    other = app.test_client()
    assert login(other, "admin", PASSWORDS["admin"]).status_code == 302
    auth.login("admin")
    auth.logout()
    assert sent_to_login(client.get("/admin"))
    assert other.get("/admin").status_code == 200  # the same user on another device stays in


def test_a_password_change_ends_every_session(app, runner, auth, client):
    other = app.test_client()
    login(other, "admin", PASSWORDS["admin"])
    auth.login("admin")
    cookie = saved_cookie(client)
    result = runner.invoke(args=["user", "passwd", "admin", "--password-stdin"],
                           input="a-new-password-2\n")
    assert result.exit_code == 0, result.output
    assert "结束了 2 个登录会话" in result.output
    for browser in (client, other, replay(app, cookie)):
        assert sent_to_login(browser.get("/admin"))
    assert login(app.test_client(), "admin", PASSWORDS["admin"]).status_code == 401
    fresh = app.test_client()
    assert login(fresh, "admin", "a-new-password-2").status_code == 302
    assert fresh.get("/admin").status_code == 200


def test_a_role_change_ends_every_session(app, runner, auth, client, fresh_db):
    auth.login("admin")
    cookie = saved_cookie(client)
    result = runner.invoke(args=["user", "role", "admin", "planner"])
    assert result.exit_code == 0, result.output
    assert sent_to_login(replay(app, cookie).get("/admin/stations"))
    assert sent_to_login(client.get("/admin/stations"))
    fresh = app.test_client()
    assert login(fresh, "admin", PASSWORDS["admin"]).status_code == 302
    assert fresh.get("/admin/stations").status_code == 403  # a planner now
    assert users.get_user(fresh_db, "admin")["role"] == "planner"


def test_user_commands_refuse_bad_input(runner):
    result = runner.invoke(args=["user", "passwd", "nobody", "--password-stdin"], input="long-enough-1\n")
    assert result.exit_code != 0 and "没有用户 nobody" in result.output
    result = runner.invoke(args=["user", "passwd", "admin", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "密码太短" in result.output
    result = runner.invoke(args=["user", "role", "admin", "king"])
    assert result.exit_code != 0 and "king" in result.output


def test_basic_auth_still_works_per_request_after_logout(app, auth, client):
    auth.login("admin")
    auth.logout()
    response = app.test_client().post("/api/v1/stations", headers=basic("admin", PASSWORDS["admin"]),
                                      json={"name": "接口建的站", "lon": 116.4, "lat": 39.9})
    assert response.status_code == 201, response.get_json()


def test_the_cookie_holds_a_random_token_the_database_only_its_hash(app, client, auth, fresh_db):
    auth.login("admin")
    data = app.session_interface.get_signing_serializer(app).loads(saved_cookie(client))
    assert "user_id" not in data and len(data["sid"]) >= 40
    stored = [r[0] for r in fresh_db.execute("SELECT id FROM sessions")]
    assert len(stored) == 1 and data["sid"] not in stored


def test_a_session_ends_when_it_expires(fresh_db):
    uid = users.add_user(fresh_db, "someone", "long-enough-1", "planner")
    token = users.start_session(fresh_db, uid, hours=8, now=1_000_000)
    assert users.session_user(fresh_db, token, now=1_000_000 + 8 * 3600 - 1)["username"] == "someone"
    assert users.session_user(fresh_db, token, now=1_000_000 + 8 * 3600) is None
    assert users.session_user(fresh_db, "made-up-token") is None


def test_a_cookie_from_before_server_side_sessions_is_refused(app):
    # Cookies signed by the previous version named the user directly.
    forged = app.session_interface.get_signing_serializer(app).dumps({"user_id": 1})
    assert sent_to_login(replay(app, forged).get("/admin"))
