"""Riders: /api/v1/nearest, the /nearby page, feedback with shared rate limits, QR sheet."""

import re

import pytest

from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02
from stations import storage
from stations.web import create_app
from tests.conftest import csrf_token, make_station


@pytest.fixture
def stations(fresh_db):
    ids = {
        "near": make_station(fresh_db, name="近站", lon=116.4000, lat=39.9000, hours="24/7",
                             facilities=["water", "microwave", "charging"],
                             manager="王负责", manager_phone="13912345678"),
        "mid": make_station(fresh_db, name="中站", lon=116.4100, lat=39.9000,
                            hours="Mo-Fr 09:00-17:00", facilities=["water", "toilet"]),
        "far": make_station(fresh_db, name="远站", lon=116.4500, lat=39.9000,
                            hours="Mo-Su 08:00-20:00", facilities=["microwave", "charging"]),
        "closed": make_station(fresh_db, name="关站", lon=116.4005, lat=39.9000, status="closed"),
    }
    return ids


def nearest(client, **params):
    response = client.get("/api/v1/nearest", query_string=params)
    return response, response.get_json()


def test_nearest_answer_shape_and_order(client, stations):
    response, body = nearest(client, lon=116.399, lat=39.9, k=3)
    assert response.status_code == 200
    names = [r["station"]["properties"]["name"] for r in body["results"]]
    assert names == ["近站", "中站", "远站"]  # the closed one is left out by default
    first = body["results"][0]
    assert first["station"]["type"] == "Feature" and first["station"]["id"] == stations["near"]
    assert first["distance_m"] == pytest.approx(85.3, abs=1) and first["walk_minutes"] == 2
    assert first["open_now"] is True
    assert body["query"]["k"] == 3 and "haversine" in body["query"]["distance"]


def test_nearest_filters_and_time(client, stations):
    saturday_noon = "2026-11-28T12:00:00+08:00"
    _, body = nearest(client, lon=116.41, lat=39.9, open_now=1, at=saturday_noon)
    assert [r["station"]["properties"]["name"] for r in body["results"]] == ["近站", "远站"]
    _, body = nearest(client, lon=116.41, lat=39.9, facilities="microwave,charging")
    assert [r["station"]["properties"]["name"] for r in body["results"]] == ["近站", "远站"]
    _, body = nearest(client, lon=116.41, lat=39.9, at="2026-11-24T03:00:00Z")  # 11:00 Beijing
    assert {r["station"]["properties"]["name"]: r["open_now"] for r in body["results"]}["中站"] is True
    _, body = nearest(client, lon=116.41, lat=39.9, radius_m=100)
    assert [r["station"]["properties"]["name"] for r in body["results"]] == ["中站"]
    _, body = nearest(client, lon=116.41, lat=39.9, status="any", k=4)
    assert "关站" in [r["station"]["properties"]["name"] for r in body["results"]]
    _, body = nearest(client, lon=120.0, lat=30.0, radius_m=50000)
    assert body["results"] == []


def test_nearest_in_gcj02_in_and_out(client, stations):
    glon, glat = wgs84_to_gcj02(116.4000, 39.9000)
    _, body = nearest(client, lon=glon, lat=glat, datum="gcj02", k=1)
    hit = body["results"][0]
    assert hit["distance_m"] < 1  # the GCJ-02 point converted back lands on the station
    assert hit["station"]["geometry"]["coordinates"] == pytest.approx([glon, glat], abs=1e-6)
    _, body = nearest(client, lon=glon, lat=glat, k=1)  # the same numbers taken as WGS-84
    assert body["results"][0]["distance_m"] > 300


@pytest.mark.parametrize("params,parameter", [
    ({"lat": 39.9}, "lon"), ({"lon": 116.4}, "lat"), ({"lon": "x", "lat": 39.9}, "lon"),
    ({"lon": 116.4, "lat": 95}, "lat"), ({"lon": 200, "lat": 39.9}, "lon"),
    ({"lon": 116.4, "lat": 39.9, "k": 0}, "k"), ({"lon": 116.4, "lat": 39.9, "k": 51}, "k"),
    ({"lon": 116.4, "lat": 39.9, "k": "five"}, "k"),
    ({"lon": 116.4, "lat": 39.9, "radius_m": 50001}, "radius_m"),
    ({"lon": 116.4, "lat": 39.9, "radius_m": -1}, "radius_m"),
    ({"lon": 116.4, "lat": 39.9, "radius_m": "nan"}, "radius_m"),
    ({"lon": 116.4, "lat": 39.9, "facilities": "jacuzzi"}, "facilities"),
    ({"lon": 116.4, "lat": 39.9, "status": "gone"}, "status"),
    ({"lon": 116.4, "lat": 39.9, "at": "yesterday"}, "at"),
    ({"lon": 116.4, "lat": 39.9, "open_now": "maybe"}, "open_now"),
    ({"lon": 116.4, "lat": 39.9, "datum": "osgb"}, "datum"),
])
def test_bad_nearest_parameters_are_named(client, stations, params, parameter):
    response, body = nearest(client, **params)
    assert response.status_code == 400
    assert body["error"]["parameter"] == parameter and body["error"]["message"]


def test_phone_and_manager_never_public(client, stations):
    pages = [client.get("/api/v1/nearest?lon=116.4&lat=39.9&k=10"),
             client.get("/api/v1/nearest?lon=116.4&lat=39.9&datum=bd09"),
             client.get("/nearby?lon=116.4&lat=39.9"),
             client.get(f"/stations/{stations['near']}"),
             client.get(f"/stations/{stations['near']}/qr")]
    for page in pages:
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "13912345678" not in text and "王负责" not in text


def test_nearby_page_lists_with_navigation_links(client, stations):
    page = client.get("/nearby?lat=39.9&lon=116.3995&facility=microwave")
    text = page.get_data(as_text=True)
    ids = re.findall(r'data-station-id="(\d+)"', text)
    assert ids == [str(stations["near"]), str(stations["far"])]
    glon, glat = wgs84_to_gcj02(116.4, 39.9)
    blon, blat = wgs84_to_bd09(116.4, 39.9)
    # Routes start at the rider (Amap "lon,lat", Baidu "lat,lon" in BD-09, Tencent "lat,lon").
    assert f"to={glon:.6f}%2C{glat:.6f}%2C" in text and "mode=ride" in text
    assert f"destination=latlng%3A{blat:.6f}%2C{blon:.6f}%7Cname%3A" in text
    assert "mode=riding" in text and "coord_type=bd09ll" in text
    assert f"tocoord={glat:.6f}%2C{glon:.6f}" in text and "type=bike" in text
    assert "步行约 1 分钟" in text and "24小时开放" in text


def test_nearby_by_district_and_bad_input(client, stations):
    page = client.get("/nearby?district=东城区")
    text = page.get_data(as_text=True)
    # No location, so no distance "from you": the district's stations, said plainly.
    assert page.status_code == 200 and "东城区共有 3 个驿站" in text and "离您最近的" not in text
    bad = client.get("/nearby?district=火星区")
    assert bad.status_code == 400 and "火星区" in bad.get_data(as_text=True)
    assert client.get("/nearby?lat=abc&lon=116").status_code == 400
    assert "找最近的驿站" in client.get("/nearby").get_data(as_text=True)


def post_feedback(client, station_id, **data):
    token = csrf_token(client, f"/stations/{station_id}")
    data = {"csrf_token": token, **data}
    return client.post(f"/stations/{station_id}/feedback", data=data)


def test_feedback_is_stored_and_shown_as_text(client, app, stations, fresh_db):
    response = post_feedback(client, stations["near"], rating="4", found=["hot_water", "could_enter"],
                             note="<script>alert(1)</script> 很好")
    assert response.status_code == 302
    page = client.get(f"/stations/{stations['near']}").get_data(as_text=True)
    assert "谢谢您的反馈" in page and "骑手评分 4.0 / 5（1 人评价）" in page
    row = fresh_db.execute("select rating, note, flag from feedback").fetchone()
    assert row == (4, "<script>alert(1)</script> 很好", None)


def test_bad_feedback_keeps_what_was_typed(client, stations, fresh_db):
    response = post_feedback(client, stations["near"], rating="9", found=["hot_water"], note="水是凉的")
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "评分应为 1 到 5 星" in text
    assert "水是凉的</textarea>" in text and 'value="hot_water" checked' in text
    assert post_feedback(client, stations["near"]).status_code == 400  # nothing at all
    assert post_feedback(client, stations["near"], note="x" * 301).status_code == 400
    assert fresh_db.execute("select count(*) from feedback").fetchone()[0] == 0


def test_reports_raise_flags_for_the_organiser(client, auth, stations, fresh_db):
    post_feedback(client, stations["near"], found=["closed"], note="门锁着")   # 24 h: should be open
    post_feedback(client, stations["mid"], found=["not_found"])
    post_feedback(client, stations["far"], rating="5")                           # no flag
    auth.login("admin")
    queue = client.get("/admin/flags").get_data(as_text=True)
    assert "近站" in queue and "中站" in queue and "远站" not in queue
    assert "门锁着" in queue and "开放时间内关门" in queue
    home = client.get("/admin").get_data(as_text=True)
    assert "待核反馈" in home and "2 个站点" in home
    token = csrf_token(client, "/admin/flags")
    client.post(f"/admin/flags/{stations['near']}/resolve",
                data={"csrf_token": token, "resolution": "false_report"})
    assert "近站" not in client.get("/admin/flags").get_data(as_text=True)


def test_closed_report_outside_hours_is_not_a_flag(fresh_db, stations):
    from datetime import datetime

    from werkzeug.datastructures import MultiDict

    from stations.riders.feedback import submit_feedback
    from stations.storage import TZ
    night = datetime(2026, 11, 24, 23, 0, tzinfo=TZ)  # 中站 opens 09:00-17:00 on weekdays
    row = submit_feedback(fresh_db, stations["mid"], MultiDict({"found": "closed"}), client="c",
                          limits={"per_client": 5, "global": 100}, at=night)
    assert row["flag"] is None


def test_rate_limit_per_client_is_shared_by_every_process(app, db_path, stations):
    # Two app instances over one database stand for two gunicorn workers.
    other = create_app({"YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "test-secret"})
    one, two = app.test_client(), other.test_client()
    codes = [post_feedback(c, stations["far"], rating="5").status_code
             for c in (one, two, one, two, one, two)]
    assert codes == [302] * 5 + [429]
    text = post_feedback(one, stations["far"], rating="5").get_data(as_text=True)
    assert "提交太频繁了" in text


def test_global_rate_limit(db_path, stations):
    app = create_app({"YIZHAN_DB": str(db_path), "YIZHAN_SECRET_KEY": "k",
                      "YIZHAN_FEEDBACK_GLOBAL": 3, "YIZHAN_FEEDBACK_PER_CLIENT": 100})
    clients = [app.test_client() for _ in range(2)]
    codes = []
    for i in range(4):
        c = clients[i % 2]
        codes.append(c.post(f"/stations/{stations['far']}/feedback", environ_base={
            "REMOTE_ADDR": f"10.0.0.{i}"}, data={"csrf_token": csrf_token(c, f"/stations/{stations['far']}"),
                                                 "rating": "3"}).status_code)
    assert codes == [302, 302, 302, 429]


def test_qr_sheet_points_at_the_public_page(client, stations):
    page = client.get(f"/stations/{stations['near']}/qr").get_data(as_text=True)
    assert "<svg" in page and "<path" in page
    assert f"http://localhost/stations/{stations['near']}" in page and "近站" in page
    assert client.get("/stations/99999/qr").status_code == 404


def test_qr_encodes_the_url():
    import qrcode

    from stations.riders.qr import qr_svg
    url = "https://yizhan.example/stations/42"
    svg = qr_svg(url)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    # every dark module of the URL's QR matrix appears as a 1×1 square in the SVG path
    modules = code.get_matrix()
    dark = {(x, y) for y, row in enumerate(modules) for x, cell in enumerate(row) if cell}
    drawn = set(map(lambda m: (int(m[0]), int(m[1])), re.findall(r"M(\d+),(\d+)H", svg)))
    assert dark == drawn


def test_index_follows_registry_changes(client, auth, stations, fresh_db):
    _, body = nearest(client, lon=116.45, lat=39.9, k=1)
    assert body["results"][0]["station"]["properties"]["name"] == "远站"
    storage.set_status(fresh_db, stations["far"], "closed", username="t")
    _, body = nearest(client, lon=116.45, lat=39.9, k=1)
    assert body["results"][0]["station"]["properties"]["name"] == "中站"


def test_station_page_has_one_tap_navigation_in_each_apps_datum(client, stations):
    text = client.get(f"/stations/{stations['near']}").get_data(as_text=True)
    glon, glat = wgs84_to_gcj02(116.4, 39.9)
    blon, blat = wgs84_to_bd09(116.4, 39.9)
    assert f"to={glon:.6f}%2C{glat:.6f}%2C" in text
    assert f"location={blat:.6f}%2C{blon:.6f}" in text  # Baidu needs a start for a route
    assert f"tocoord={glat:.6f}%2C{glon:.6f}" in text


def test_rate_limit_does_not_reset_at_a_window_boundary(fresh_db):
    from stations.riders.feedback import RateLimited, check_rate
    start = 6000.0 * 100 - 1  # one second before a 10-minute window ends
    for i in range(5):
        check_rate(fresh_db, "client:x", 5, 600, now=start + i * 0.1)
    with pytest.raises(RateLimited):
        check_rate(fresh_db, "client:x", 5, 600, now=start + 2)  # just after the boundary
    # A whole window later the client may post again.
    assert check_rate(fresh_db, "client:x", 5, 600, now=start + 1201) == 1


def test_qr_svg_download(client, stations):
    response = client.get(f"/stations/{stations['near']}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True).startswith("<svg")
    assert client.get("/stations/99999/qr.svg").status_code == 404


def test_every_facility_can_be_a_filter_on_the_rider_page(client, stations):
    from stations.registry.records import FACILITIES
    page = client.get("/nearby").get_data(as_text=True)
    for code in FACILITIES:
        assert f'name="facility" value="{code}"' in page
    page = client.get("/nearby?lat=39.9&lon=116.4&facility=toilet").get_data(as_text=True)
    assert re.findall(r'data-station-id="(\d+)"', page) == [str(stations["mid"])]
