"""The rider site the rider-page browser tests share (test_browser_finder.py and
test_browser_pages.py): one live server (werkzeug, in a thread) over a temporary database of
2,000 synthetic Beijing stations plus a few hand-made ones, one chromium, and a phone
standing near Tiananmen that has allowed geolocation.  Every request that leaves the test
server is aborted, so the tests run offline.

A test file takes the fixtures as module attributes (``live, browser, phone =
rider_browser_support.live, ...``); they are module-scoped, so each such file starts its
own server and chromium (about 3 s).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from stations import storage
from stations.registry.demo import generate_stations, load_demo
from tests.browser_support import launch, need_browser, phone_context, serve
from tests.conftest import make_station

# Where the rider stands (WGS-84): near Tiananmen, and a second spot in 海淀区.
HERE = {"latitude": 39.9087, "longitude": 116.3975}
HOSTILE_SPOT = {"latitude": 39.9600, "longitude": 116.3300}
HOSTILE_NAME = "<img src=x onerror=alert(1)>${alert(1)}"


# --- fixtures -----------------------------------------------------------------------

ORGANISER_PASSWORD = "browser-org-password"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app over a filled temporary database, served by werkzeug in a thread."""
    need_browser()
    from stations.web import create_app

    db_path = tmp_path_factory.mktemp("browser") / "yizhan.db"
    db = storage.connect(db_path)
    storage.migrate(db)
    load_demo(db, generate_stations(2000, seed=7, region="beijing"))
    lat, lon = HERE["latitude"], HERE["longitude"]
    hand = {
        # Right where the rider stands, but not usable: the default filter must skip them.
        "closed_here": make_station(db, name="已关闭的驿站", lon=lon, lat=lat, status="closed"),
        "paused_here": make_station(db, name="暂停开放的驿站", lon=lon + 0.00005, lat=lat,
                                    status="temporarily_closed"),
        "pending_here": make_station(db, name="待审核的驿站", lon=lon, lat=lat + 0.00005,
                                     status="pending"),
        # An open-all-day station with a microwave 400 m east, for the filter test.
        "always": make_station(db, name="全天驿站", lon=lon + 0.0047, lat=lat, hours="24/7",
                               facilities=["water", "microwave", "charging"]),
        # Hours as an organiser typed them, and a private note (issue 10, point 15 and 22).
        "typed": make_station(db, name="手写时间驿站", lon=lon - 0.02, lat=lat + 0.02,
                              hours="Mo-Fr 08:00-20:00", hours_text="周一至周五 8:00-20:00，周末休息",
                              note="钥匙在门卫王师傅 13911112222"),
        # The hostile name, 3 m from the second spot, so it is the nearest there.
        "hostile": make_station(db, name=HOSTILE_NAME, address="<b>海淀区</b>某路1号",
                                lon=HOSTILE_SPOT["longitude"],
                                lat=HOSTILE_SPOT["latitude"] + 0.00003, district="海淀区"),
    }
    from stations.accounts import users

    users.add_user(db, "org", ORGANISER_PASSWORD, "admin")
    stations = list(storage.iter_stations(db))
    db.conn.close()

    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True,
                      "YIZHAN_SECRET_KEY": "browser-test-secret", "YIZHAN_REGION": "beijing"})
    with serve(app) as url:
        yield SimpleNamespace(url=url, db_path=db_path, stations=stations,
                              by_id={s["id"]: s for s in stations}, ids=hand)


@pytest.fixture(scope="module")
def browser(live):
    with launch() as chromium:
        yield chromium


def _context(browser, live, *, geolocation=HERE, **options):
    return phone_context(browser, live.url, geolocation=geolocation, **options)


@pytest.fixture
def phone(browser, live):
    """A phone at HERE that has allowed geolocation; yields (context, page, requests, dialogs)."""
    context = _context(browser, live)
    page = context.new_page()
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield SimpleNamespace(context=context, page=page, requests=requests, dialogs=dialogs)
    context.close()


# --- helpers ------------------------------------------------------------------------

def locate(page):
    """Press the big button and wait for the server-rendered list."""
    page.get_by_role("button", name="找最近的驿站").click()
    page.wait_for_url(re.compile(r"/nearby\?.*lat="))
    page.wait_for_selector("#results")
