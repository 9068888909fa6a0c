"""Security of the web layer: escaping, personal data, deny by default, login and limits."""

import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import pytest
from markupsafe import escape

from stations.maps import js_safe_text
from stations.web import create_app
from tests.conftest import PASSWORDS, csrf_token, make_station

HOSTILE_NAMES = [
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "a`+alert(1)+`${x}",
    'x" autofocus onfocus="alert(1)',
]
HOSTILE_ADDRESS = "${alert(2)}`<img src=y onerror=alert(2)>"
MANAGER, PHONE = "王负责", "13912345678"


def text(response, status=200):
    assert response.status_code == status, (response.request.path, response.status_code)
    return response.get_data(as_text=True)


def inline_scripts(html):
    return re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)


def assert_only_escaped(html, name):
    """``name`` shows as text: escaped, never as markup, never inside a script."""
    assert str(escape(name)) in html, "the name is not shown"
    if any(c in name for c in "<>\"'&"):
        assert name not in html, "the name appears unescaped"
    for script in inline_scripts(html):
        assert "alert(1)" not in script, "the name ended up inside a <script>"


# --- hostile names -----------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_escaped_on_public_pages(client, fresh_db, name):
    sid = make_station(fresh_db, name=name)
    assert_only_escaped(text(client.get("/stations")), name)
    assert_only_escaped(text(client.get(f"/stations/{sid}")), name)
    assert_only_escaped(text(client.get(f"/stations/{sid}/qr")), name)
    nearby = text(client.get("/nearby?lat=39.9087&lon=116.3975"))
    assert_only_escaped(nearby, name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_cannot_break_out_of_the_map_script(client, fresh_db, name):
    sid = make_station(fresh_db, name=name, address=HOSTILE_ADDRESS)
    html = text(client.get(f"/stations/{sid}/map"))
    # folium puts tooltip and popup text inside JS template literals: `...`
    assert "${alert(1)}" not in html and "${x}" not in html and "${alert(2)}" not in html
    assert "`+alert(1)+`" not in html and "a`" not in html and "`<img" not in html
    assert "<img src=x" not in html and "<img src=y" not in html
    assert 'onfocus="alert(1)' not in html
    # and the name is still on the map, neutralised
    assert js_safe_text(name) in html


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_escaped_on_admin_pages(client, auth, fresh_db, name):
    sid = make_station(fresh_db, name=name)
    auth.login("admin")
    assert_only_escaped(text(client.get("/admin/stations")), name)
    assert_only_escaped(text(client.get(f"/admin/stations/{sid}")), name)
    form = text(client.get(f"/admin/stations/{sid}/edit"))
    assert_only_escaped(form, name)
    assert f'name="name" type="text" value="{escape(name)}"' in form


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_come_back_from_the_api_exactly_as_stored(client, fresh_db, name):
    sid = make_station(fresh_db, name=name, address=HOSTILE_ADDRESS)
    listing = client.get("/api/v1/stations")
    assert listing.status_code == 200 and listing.mimetype == "application/json"
    feature = next(f for f in listing.get_json()["features"] if f["id"] == sid)
    assert feature["properties"]["name"] == name
    assert feature["properties"]["address"] == HOSTILE_ADDRESS
    one = client.get(f"/api/v1/stations/{sid}")
    assert one.mimetype == "application/json"
    assert one.get_json()["properties"]["name"] == name


def test_hostile_query_parameters_are_escaped_on_the_directory(client, fresh_db):
    make_station(fresh_db, name="某站")
    evil = "<img src=x onerror=alert(1)>"
    for url in (f"/stations?q={evil}", f"/stations?facility={evil}", f"/stations?district={evil}"):
        html = client.get(url).get_data(as_text=True)
        assert evil not in html, url


# --- personal data --------------------------------------------------------------------

PUBLIC_URLS = [
    "/stations",
    "/stations/{sid}",
    "/stations/{sid}/map",
    "/stations/{sid}/qr",
    "/nearby?lat=39.9087&lon=116.3975",
    "/api/v1/stations",
    "/api/v1/stations?datum=gcj02",
    "/api/v1/stations?datum=bd09",
    "/api/v1/stations/{sid}",
    "/api/v1/stations/{sid}?datum=gcj02",
    "/api/v1/nearest?lat=39.9087&lon=116.3975",
    "/api/v1/nearest?lat=39.9087&lon=116.3975&datum=gcj02",
]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_manager_name_and_phone_are_never_public(client, fresh_db, url):
    sid = make_station(fresh_db, name="隐私站", manager=MANAGER, manager_phone=PHONE)
    response = client.get(url.format(sid=sid))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    if response.mimetype == "application/json":
        body += json.dumps(response.get_json(), ensure_ascii=False)
        assert "manager" not in body  # no such key, not even empty
    if "q=" not in url:
        assert "隐私站" in body  # the station is on this page ...
    assert MANAGER not in body and PHONE not in body  # ... but not who runs it


def test_the_phone_number_cannot_be_probed_by_searching(client, fresh_db):
    make_station(fresh_db, name="隐私站", manager=MANAGER, manager_phone=PHONE)
    assert client.get(f"/api/v1/stations?q={PHONE}").get_json()["total"] == 0
    assert client.get(f"/api/v1/stations?q={MANAGER}").get_json()["total"] == 0
    assert "共 0 个站点" in text(client.get(f"/stations?q={PHONE}"))


def test_admin_sees_the_manager(client, auth, fresh_db):
    sid = make_station(fresh_db, name="隐私站", manager=MANAGER, manager_phone=PHONE)
    auth.login("admin")
    html = text(client.get(f"/admin/stations/{sid}"))
    assert MANAGER in html and PHONE in html


# --- deny by default --------------------------------------------------------------------

def test_every_route_declares_who_may_use_it(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not getattr(view, "access", None):
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert not undeclared, "views without @allow: " + ", ".join(undeclared)


def test_an_undeclared_route_is_refused_even_to_an_admin(app, db_path):
    other = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                        "YIZHAN_SECRET_KEY": "test-secret"})
    other.add_url_rule("/forgotten", "forgotten", lambda: "secret data")
    client = other.test_client()
    assert client.get("/forgotten").status_code == 403
    token = csrf_token(client)
    client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                "csrf_token": token})
    response = client.get("/forgotten")
    assert response.status_code == 403 and "secret data" not in response.get_data(as_text=True)


ADMIN_PAGES = ["/admin/stations", "/admin/stations/new", "/admin/import",
               "/admin/stations/{sid}", "/admin/stations/{sid}/edit", "/admin/flags"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_send_anonymous_visitors_to_login(client, fresh_db, path):
    sid = make_station(fresh_db, name="某站", manager=MANAGER, manager_phone=PHONE)
    response = client.get(path.format(sid=sid))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert PHONE not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["reviewer", "planner"])
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_forbidden_to_other_roles(client, auth, fresh_db, role, path):
    sid = make_station(fresh_db, name="某站", manager=MANAGER, manager_phone=PHONE)
    auth.login(role)
    response = client.get(path.format(sid=sid))
    assert response.status_code == 403
    assert PHONE not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["reviewer", "planner"])
def test_other_roles_cannot_change_stations(client, auth, fresh_db, role):
    sid = make_station(fresh_db, name="某站")
    auth.login(role)
    token = csrf_token(client, "/admin")
    assert client.post(f"/admin/stations/{sid}/status",
                       data={"status": "closed", "csrf_token": token}).status_code == 403
    assert client.post("/admin/stations/new", data={
        "name": "偷建的站", "lon": "116.46", "lat": "39.92", "csrf_token": token}).status_code == 403
    html = text(client.get(f"/stations/{sid}"))
    assert "已关闭" not in html
    assert "偷建的站" not in text(client.get("/stations"))


@pytest.mark.parametrize("role", ["admin", "reviewer", "planner"])
def test_the_signed_in_home_is_open_to_every_role(client, auth, role):
    auth.login(role)
    html = text(client.get("/admin"))
    assert role in html  # greets the user by name
    assert ("新建站点" in html) == (role == "admin")


def test_the_signed_in_home_needs_a_login(client):
    response = client.get("/admin")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


# --- logging in -----------------------------------------------------------------------------

def login(client, username, password, next_url=None):
    token = csrf_token(client)
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"username": username, "password": password, "csrf_token": token})


def test_wrong_password_shows_the_form_again_and_logs_nobody_in(client):
    response = login(client, "admin", "wrong-password")
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 401)
    assert "用户名或密码错误" in html
    assert 'name="password"' in html and 'value="admin"' in html
    assert "wrong-password" not in html  # the password is never echoed
    assert client.get("/admin").status_code == 302


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client):
    wrong = login(client, "admin", "wrong-password")
    unknown = login(client, "nobody", "wrong-password")
    assert wrong.status_code == unknown.status_code
    assert "用户名或密码错误" in unknown.get_data(as_text=True)


def test_login_then_logout(client, auth):
    response = auth.login("admin")
    assert urlsplit(response.headers["Location"]).path == "/admin"
    assert text(client.get("/admin")).count("admin") >= 1
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/admin").status_code == 302
    assert "已退出登录" in text(client.get("/stations"))


def test_login_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert response.status_code == 400
    assert client.get("/admin").status_code == 302


def test_session_cookie_flags(client):
    response = login(client, "admin", PASSWORDS["admin"])
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in parts
    assert "samesite=lax" in parts
    expires = next((p for p in cookie.split(";") if p.strip().lower().startswith("expires=")), None)
    assert expires, "a login must not live for ever"
    when = parsedate_to_datetime(expires.split("=", 1)[1].strip())
    assert when <= datetime.now(timezone.utc) + timedelta(hours=24, minutes=1)


def test_secure_cookies_setting(app, db_path):
    secure = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                         "YIZHAN_SECRET_KEY": "test-secret", "YIZHAN_SECURE_COOKIES": True})
    client = secure.test_client()
    response = login(client, "admin", PASSWORDS["admin"])
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "secure" in [p.strip().lower() for p in cookie.split(";")]


def test_session_lifetime_and_body_size_are_bounded(app):
    assert timedelta(0) < app.config["PERMANENT_SESSION_LIFETIME"] <= timedelta(hours=24)
    assert app.config["MAX_CONTENT_LENGTH"]
    assert 0 < app.config["MAX_CONTENT_LENGTH"] <= 1024 * 1024 * 1024


def test_a_too_large_upload_gets_413_not_500(app, db_path):
    small = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                        "YIZHAN_SECRET_KEY": "test-secret", "YIZHAN_MAX_UPLOAD_MB": 1})
    assert small.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    client = small.test_client()
    assert login(client, "admin", PASSWORDS["admin"]).status_code == 302
    token = csrf_token(client, "/admin/import")
    # the multipart body built by hand: a 2 MiB file after the CSRF token
    boundary = "yizhanboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n').encode()
    body += "名称,经度,纬度\n".encode() + b"x" * (2 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/admin/import", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "太大" in response.get_data(as_text=True)
    api = client.post("/api/v1/stations", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                      content_type="application/json",
                      headers={"Authorization": _basic("admin", PASSWORDS["admin"])})
    assert api.status_code == 413


def _basic(user, password):
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "///evil.example/",
                                    "/\\evil.example/", "\\\\evil.example/",
                                    "https:evil.example", "/\t/evil.example"])
def test_login_never_redirects_off_site(client, target):
    response = login(client, "admin", PASSWORDS["admin"], next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    # resolve it as a browser would (browsers read "\" as "/" and drop tabs)
    as_browser = location.replace("\\", "/").replace("\t", "")
    assert urlsplit(urljoin("http://localhost/login", as_browser)).netloc == "localhost", location


def test_login_follows_a_same_site_next(client):
    response = login(client, "admin", PASSWORDS["admin"], next_url="/admin/stations?q=x")
    assert response.headers["Location"] == "/admin/stations?q=x"


def test_resolving_flags_never_redirects_off_site(client, auth, fresh_db):
    sid = make_station(fresh_db, name="某站")
    auth.login("admin")
    token = csrf_token(client, "/admin/flags")
    response = client.post(f"/admin/flags/{sid}/resolve",
                           data={"csrf_token": token, "next": "https://evil.example/"})
    assert response.status_code == 302
    location = response.headers["Location"].replace("\\", "/")
    assert urlsplit(urljoin("http://localhost/admin/flags", location)).netloc == "localhost", \
        response.headers["Location"]


def test_passwords_are_stored_hashed(app, fresh_db):
    for username, password in PASSWORDS.items():
        stored = fresh_db.execute("SELECT password_hash FROM users WHERE username = ?",
                                  [username]).fetchone()[0]
        assert password not in stored
        assert stored.startswith("scrypt$")
    hashes = [r[0] for r in fresh_db.execute("SELECT password_hash FROM users")]
    assert len(set(hashes)) == len(hashes)  # salted
