"""Security headers on every answer, compression, and long-cached versioned static files."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import brotli
import pytest

from stations.web import create_app
from stations.web.serving import YEAR
from tests.conftest import csrf_token, make_station

SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                    "Referrer-Policy")


def policy(response) -> dict[str, list[str]]:
    csp = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}


def assert_secure(response, where):
    for name in SECURITY_HEADERS:
        assert name in response.headers, f"{where}: no {name}"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN", where
    assert response.headers["X-Content-Type-Options"] == "nosniff", where
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin")
    csp = policy(response)
    assert csp["frame-ancestors"] == ["'self'"], where
    assert "'unsafe-inline'" not in csp["script-src"], where
    assert "'unsafe-eval'" not in csp["script-src"], where
    assert csp["object-src"] == ["'none'"], where


def get(client, url, **kwargs):
    """A GET whose body is read and whose file (static answers) is closed."""
    with client.get(url, **kwargs) as response:
        response.get_data()
        return response


def sample_url(rule, station_id):
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        values[name] = {"IntegerConverter": station_id, "PathConverter": "site.css"}.get(
            converter, "x")
    url = rule.rule
    for name, value in values.items():
        url = re.sub(r"<(?:[^:<>]+:)?" + name + ">", str(value), url)
    return url


@pytest.fixture
def station_id(app, fresh_db):
    return make_station(fresh_db, name="头部测试驿站")


@pytest.mark.parametrize("role", [None, "admin"])
def test_every_route_answers_with_the_security_headers(app, client, auth, station_id, role):
    if role:
        auth.login(role)
    seen = 0
    for rule in app.url_map.iter_rules():
        url = sample_url(rule, station_id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) + ["DELETE"]:
            with client.open(url, method=method) as response:  # writes without a token: 400
                assert_secure(response, f"{method} {url} ({role or 'anonymous'}) "
                                        f"-> {response.status_code}")
            seen += 1
    assert seen > 40
    assert_secure(client.get("/no/such/page"), "404")


def test_pages_have_no_inline_event_handlers_and_inline_scripts_carry_the_nonce(client, station_id):
    for url in ("/nearby", "/stations", f"/stations/{station_id}", f"/stations/{station_id}/qr",
                "/login"):
        response = get(client, url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), f"{url}: inline event handler"
        allowed = policy(response)["script-src"]
        for attributes, _ in re.findall(r"<script(\s[^>]*)?>(.*?)</script>", html, re.S):
            if "src=" in attributes:
                continue
            nonce = re.search(r'nonce="([^"]+)"', attributes)
            assert nonce and f"'nonce-{nonce.group(1)}'" in allowed, f"{url}: {attributes!r}"


def test_qr_sheet_print_button_script_is_allowed_by_its_nonce(client, station_id):
    first = client.get(f"/stations/{station_id}/qr")
    second = client.get(f"/stations/{station_id}/qr")
    nonces = [re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
              for r in (first, second)]
    assert nonces[0] != nonces[1]  # fresh each answer
    assert f'nonce="{nonces[0]}"' in first.get_data(as_text=True)
    assert "window.print" in first.get_data(as_text=True)


def test_station_map_allows_exactly_its_own_inline_scripts_by_hash(client, station_id):
    response = client.get(f"/stations/{station_id}/map")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    scripts = [body for attributes, body in re.findall(r"<script(\s[^>]*)?>(.*?)</script>", html,
                                                       re.S) if "src=" not in attributes]
    assert scripts, "folium pages are made of inline scripts"
    allowed = policy(response)["script-src"]
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed
    assert "'unsafe-inline'" not in allowed
    assert len([s for s in allowed if s.startswith("'sha256-")]) == len(set(scripts))
    # Framed by the station page (same origin), and by nobody else.
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert policy(response)["frame-ancestors"] == ["'self'"]
    page = client.get(f"/stations/{station_id}").get_data(as_text=True)
    assert f'src="/stations/{station_id}/map"' in page
    assert "'self'" in policy(client.get(f"/stations/{station_id}"))["frame-src"]


def test_hash_allowance_is_only_for_map_pages(client, station_id):
    # Another page's inline script would need a nonce: no hashes are handed out.
    for url in ("/nearby", f"/stations/{station_id}", "/stations"):
        assert not [s for s in policy(client.get(url))["script-src"] if s.startswith("'sha256-")]


def test_admin_pages_refuse_framing_by_other_origins(client, auth):
    auth.login("admin")
    for url in ("/admin", "/admin/stations", "/admin/flags"):
        response = get(client, url)
        assert response.status_code == 200, url
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert policy(response)["frame-ancestors"] == ["'self'"]


def test_signed_in_answers_are_not_kept_by_caches_and_public_ones_may_be(client, auth, station_id):
    public = get(client, f"/stations/{station_id}")
    assert "no-store" not in public.headers.get("Cache-Control", "")
    auth.login("admin")
    for url in ("/admin", "/admin/stations", f"/stations/{station_id}", f"/admin/stations/{station_id}",
                "/admin/flags", "/api/v1/stations?limit=1"):
        response = get(client, url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "private, no-store", url
    export = get(client, "/admin/export/download?format=csv")  # a download keeps its own policy
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/api/v1/stations", "/stations", "/nearby"])
def test_405_answers_keep_their_allow_header(client, url):
    response = client.delete(url)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    if url.startswith("/api/"):
        assert response.json["error"]["status"] == 405
        assert "POST" in response.headers["Allow"]


# --- compression -----------------------------------------------------------------------

@pytest.mark.parametrize("encoding, decode", [("gzip", gzip.decompress),
                                               ("br", brotli.decompress)])
def test_pages_json_and_static_files_are_compressed_on_request(client, station_id, encoding,
                                                               decode):
    for url in (f"/stations/{station_id}", "/api/v1/stations", "/static/vendor/leaflet/leaflet.js"):
        plain = get(client, url)
        packed = get(client, url, headers={"Accept-Encoding": encoding})
        assert plain.status_code == packed.status_code == 200, url
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == encoding, url
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert len(packed.data) < len(plain.data) * (0.9 if "/api/" in url else 0.5), url
        assert decode(packed.data) == plain.data, url


def test_leaflet_gzipped_is_small(client):
    packed = get(client, "/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert len(packed.data) < 60_000  # 148 KB plain


# --- versioned, long-cached static files -----------------------------------------------

def test_static_urls_in_pages_are_versioned_and_cached_for_a_year(client, station_id):
    html = client.get(f"/stations/{station_id}").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = get(client, url.replace("&amp;", "&"))
        assert response.status_code == 200, url
        assert response.cache_control.max_age == YEAR, url
        assert response.cache_control.immutable, url
        assert not response.cache_control.no_cache


def test_unversioned_or_stale_static_urls_must_revalidate(client):
    for url in ("/static/site.css", "/static/site.css?v=000000000000"):
        response = get(client, url)
        assert response.status_code == 200
        assert response.cache_control.no_cache, url
        assert not response.cache_control.max_age


def test_map_page_loads_leaflet_from_a_versioned_long_cached_url(client, station_id):
    html = client.get(f"/stations/{station_id}/map").get_data(as_text=True)
    js = re.search(r'src="(/static/_v/[0-9a-f]{12}/vendor/leaflet/leaflet\.js)"', html)
    css = re.search(r'href="(/static/_v/[0-9a-f]{12}/vendor/leaflet/leaflet\.css)"', html)
    assert js and css, html[:600]
    for url in (js.group(1), css.group(1)):
        response = get(client, url)
        assert response.status_code == 200
        assert response.cache_control.max_age == YEAR and response.cache_control.immutable
    stale = re.sub(r"/_v/[0-9a-f]{12}/", "/_v/000000000000/", js.group(1))
    assert get(client, stale).cache_control.no_cache
    assert get(client, "/static/_v/").status_code == 404


def test_a_changed_static_file_changes_its_url(tmp_path, db_path, fresh_db):
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "t"})
    app.static_folder = str(tmp_path / "static")
    (tmp_path / "static" / "lib").mkdir(parents=True)
    css = tmp_path / "static" / "app.css"
    lib = tmp_path / "static" / "lib" / "x.js"
    css.write_text("body{color:red}")
    lib.write_text("var x = 1;")

    def urls():
        with app.test_request_context():
            from flask import url_for
            return url_for("static", filename="app.css"), url_for("static", filename="lib/")

    before = urls()
    assert before == urls()  # stable while nothing changes
    css.write_text("body{color:blue;margin:0}")
    after = urls()
    assert after[0] != before[0] and after[1] != before[1]
    client = app.test_client()
    assert get(client, after[0]).cache_control.max_age == YEAR
    assert get(client, before[0]).cache_control.no_cache  # the old URL is no longer cached
    lib.write_text("var x = 2; // changed")
    assert urls()[1] != after[1]


def test_csrf_error_and_server_side_pages_still_carry_headers(client, station_id):
    token = csrf_token(client, f"/stations/{station_id}")
    assert token
    response = client.post(f"/stations/{station_id}/feedback", data={"rating": "5"})
    assert response.status_code == 400
    assert_secure(response, "CSRF 400")


# --- in Debian's chromium: no policy violations; framing same-origin only ----------------

@pytest.fixture(scope="module")
def live_browser(tmp_path_factory):
    from stations import storage
    from stations.accounts import users
    from tests.browser_support import launch, need_browser, serve

    need_browser()

    db_path = tmp_path_factory.mktemp("csp") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    users.add_user(db, "admin", "admin-pass-1", "admin", None)
    ids = [make_station(db, name="地图驿站"),
           make_station(db, name="<img src=x onerror=alert(1)>{{7*7}}`${alert(2)}`",
                        lon=116.40, lat=39.91)]
    db.conn.close()
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "csp",
                      "YIZHAN_TILES": "osm"})
    with serve(app) as url, launch() as chromium:
        yield url, ids, chromium


def _browser_context(chromium, url, foreign=None):
    context = chromium.new_context(base_url=url, locale="zh-CN")
    context.set_default_timeout(15_000)
    violations, dialogs = [], []

    def route(r):
        if r.request.url.startswith(url + "/"):
            r.continue_()
        elif foreign and r.request.url.startswith(foreign[0]):
            r.fulfill(status=200, content_type="text/html", body=foreign[1])
        else:
            r.abort()  # offline: no tiles

    context.route("**/*", route)
    context.expose_binding("reportViolation", lambda source, text: violations.append(text))
    context.add_init_script("""document.addEventListener("securitypolicyviolation", function (e) {
        window.reportViolation(e.violatedDirective + " " + e.blockedURI + " " + location.pathname);
    });""")
    return context, violations, dialogs


@pytest.mark.browser
def test_pages_and_maps_run_under_the_policy_in_chromium(live_browser):
    url, ids, chromium = live_browser
    context, violations, dialogs = _browser_context(chromium, url)
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for station_id in ids:
        page.goto(f"/stations/{station_id}")
        frame = page.frame_locator("iframe.smallmap")
        frame.locator(".leaflet-container").wait_for()  # folium's inline scripts ran
        frame.locator(".leaflet-control-scale").wait_for()  # the script's last parts too
    page.goto(f"/stations/{ids[0]}/qr")
    page.evaluate("window.print = function () { window.printed = true; }")
    page.click("#print")
    assert page.evaluate("window.printed") is True  # the nonce'd script ran
    page.goto("/nearby")
    page.click("#pick-on-map")
    page.locator("#pickmap.leaflet-container").wait_for()  # Leaflet loaded on demand
    assert violations == []
    assert dialogs == []  # the hostile name ran nothing
    context.close()


@pytest.mark.browser
def test_admin_refuses_to_be_framed_by_another_origin_but_maps_frame_same_origin(live_browser):
    url, ids, chromium = live_browser
    other = "http://other.example.test/"
    body = f'<iframe id="f" src="{url}/admin"></iframe><iframe id="g" src="{url}/login"></iframe>'
    context, violations, _ = _browser_context(chromium, url, foreign=(other, body))
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-1")
    page.click("button[type=submit]")
    page.goto("/admin")
    assert "工作台" in page.content() or page.url.endswith("/admin")
    page.goto(other)
    page.wait_for_timeout(1500)
    framed = [f for f in page.frames if f is not page.main_frame]
    assert framed
    for frame in framed:
        assert not frame.url.startswith(url), frame.url  # blocked: never displayed
    context.close()


@pytest.mark.parametrize("encoding", ["gzip", "br", "identity"])
def test_a_static_file_is_closed_even_if_the_client_goes_away(client, encoding):
    # A browser that stops reading mid-file must not leave the file open for the GC.
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.get("/static/vendor/leaflet/leaflet.js", buffered=False,
                              headers={"Accept-Encoding": encoding})
        assert response.status_code == 200
        chunks = iter(response.response)
        next(chunks, None)
        del response, chunks
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
