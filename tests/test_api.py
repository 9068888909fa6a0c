"""JSON API v1: GeoJSON search, datums, parameter errors, OpenAPI, admin writes."""

import base64
import math

import pytest

from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02
from stations import storage
from tests.conftest import PASSWORDS, csrf_token, make_station

PROPERTIES = ("name", "address", "district", "subdistrict", "host_union", "hours", "facilities",
              "status", "awards")


def basic(role, password=None):
    raw = f"{role}:{password or PASSWORDS[role]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def distance_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def get_json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    return response.get_json()


def ids(collection):
    return [f["id"] for f in collection["features"]]


@pytest.fixture
def three(fresh_db):
    """东城 (Tiananmen), 朝阳 (Guomao, closed), 海淀 (Zhongguancun)."""
    return {
        "dongcheng": make_station(fresh_db, name="天安门驿站", address="北京市东城区东长安街1号",
                                  facilities=["water", "microwave"], subdistrict="东华门街道",
                                  host_union="东城区总工会",
                                  awards=[{"title": "最美工会户外劳动者服务站点", "year": 2021}]),
        "chaoyang": make_station(fresh_db, name="国贸驿站", address="北京市朝阳区建国门外大街1号",
                                 lon=116.4600, lat=39.9090, district="朝阳区", status="closed",
                                 facilities=["water", "toilet"]),
        "haidian": make_station(fresh_db, name="中关村驿站", address="北京市海淀区中关村大街27号",
                                lon=116.3160, lat=39.9840, district="海淀区",
                                facilities=["water", "microwave", "toilet"]),
    }


# --- reading ------------------------------------------------------------------------------

def test_stations_is_a_feature_collection_with_english_properties(client, three, fresh_db):
    make_station(fresh_db, name="待审核站", status="pending", lon=116.50, lat=39.95)
    doc = get_json(client, "/api/v1/stations")
    assert doc["type"] == "FeatureCollection"
    assert doc["total"] == 3 and sorted(ids(doc)) == sorted(three.values())
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        for name in PROPERTIES:
            assert name in feature["properties"], name
        assert not any("\u4e00" <= ch <= "\u9fff" for key in feature["properties"] for ch in key)
    tiananmen = next(f for f in doc["features"] if f["id"] == three["dongcheng"])
    props = tiananmen["properties"]
    assert props["name"] == "天安门驿站" and props["district"] == "东城区"
    assert props["subdistrict"] == "东华门街道" and props["host_union"] == "东城区总工会"
    assert props["facilities"] == ["water", "microwave"] and props["status"] == "active"
    assert props["hours"] == "Mo-Su 08:00-20:00"
    assert props["awards"][0]["title"] == "最美工会户外劳动者服务站点"
    assert tiananmen["geometry"]["coordinates"] == [116.3975, 39.9087]  # [lon, lat], WGS-84


def test_one_station_is_a_feature_whose_id_is_the_station_id(client, three):
    sid = three["haidian"]
    feature = get_json(client, f"/api/v1/stations/{sid}")
    assert feature["type"] == "Feature" and feature["id"] == sid
    assert feature["properties"]["name"] == "中关村驿站"
    assert feature["geometry"]["coordinates"] == [116.316, 39.984]


def test_filters(client, three):
    assert ids(get_json(client, "/api/v1/stations?q=国贸")) == [three["chaoyang"]]
    assert ids(get_json(client, "/api/v1/stations?q=中关村大街")) == [three["haidian"]]  # address
    assert ids(get_json(client, "/api/v1/stations?district=海淀区")) == [three["haidian"]]
    assert ids(get_json(client, "/api/v1/stations?status=closed")) == [three["chaoyang"]]
    assert sorted(ids(get_json(client, "/api/v1/stations?status=active"))) == sorted(
        [three["dongcheng"], three["haidian"]])
    # several facilities: all of them required
    assert sorted(ids(get_json(client, "/api/v1/stations?facility=microwave"))) == sorted(
        [three["dongcheng"], three["haidian"]])
    assert ids(get_json(client, "/api/v1/stations?facility=microwave,toilet")) == [three["haidian"]]
    assert ids(get_json(client, "/api/v1/stations?facility=toilet&status=closed")) == \
        [three["chaoyang"]]
    doc = get_json(client, "/api/v1/stations?q=没有这个站")
    assert doc["total"] == 0 and doc["features"] == []


def test_bbox_returns_only_stations_inside(client, three):
    doc = get_json(client, "/api/v1/stations?bbox=116.30,39.95,116.35,40.00")
    assert ids(doc) == [three["haidian"]] and doc["total"] == 1
    doc = get_json(client, "/api/v1/stations?bbox=116.39,39.90,116.47,39.92")
    assert sorted(ids(doc)) == sorted([three["dongcheng"], three["chaoyang"]])
    assert get_json(client, "/api/v1/stations?bbox=117,41,117.1,41.1")["total"] == 0


def test_limit_offset_and_total(client, fresh_db):
    made = [make_station(fresh_db, name=f"分页{i}", lon=116.39 + i * 0.001) for i in range(5)]
    doc = get_json(client, "/api/v1/stations?limit=2")
    assert ids(doc) == made[:2] and doc["total"] == 5 and doc["limit"] == 2
    doc = get_json(client, "/api/v1/stations?limit=2&offset=2")
    assert ids(doc) == made[2:4] and doc["total"] == 5 and doc["offset"] == 2
    doc = get_json(client, "/api/v1/stations?limit=2&offset=4")
    assert ids(doc) == made[4:]
    assert get_json(client, "/api/v1/stations?offset=10")["features"] == []
    assert get_json(client, "/api/v1/stations?limit=1000")["total"] == 5


# --- datums ---------------------------------------------------------------------------------

@pytest.mark.parametrize("datum, convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_coordinates_out_in_another_datum(client, three, datum, convert):
    sid = three["dongcheng"]
    expected = convert(116.3975, 39.9087)
    for url in (f"/api/v1/stations?datum={datum}", f"/api/v1/stations/{sid}?datum={datum}"):
        doc = get_json(client, url)
        feature = doc if doc["type"] == "Feature" else \
            next(f for f in doc["features"] if f["id"] == sid)
        lon, lat = feature["geometry"]["coordinates"]
        assert lon == pytest.approx(expected[0], abs=1e-6)
        assert lat == pytest.approx(expected[1], abs=1e-6)
        assert distance_m(lon, lat, 116.3975, 39.9087) > 100  # not left in WGS-84
    assert get_json(client, f"/api/v1/stations?datum={datum}")["datum"] == datum


def test_a_gcj02_bbox_finds_the_station_drawn_on_amap(client, three):
    glon, glat = wgs84_to_gcj02(116.3975, 39.9087)
    box = f"{glon - 0.001},{glat - 0.001},{glon + 0.001},{glat + 0.001}"
    # the box is ~100 m around the GCJ-02 point; the WGS-84 point is ~600 m away
    assert ids(get_json(client, f"/api/v1/stations?bbox={box}&datum=gcj02")) == [three["dongcheng"]]
    assert ids(get_json(client, f"/api/v1/stations?bbox={box}")) == []


# --- bad parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("query, parameter", [
    ("bbox=116,39,117", "bbox"),
    ("bbox=117,39,116,40", "bbox"),
    ("bbox=116,40,117,39", "bbox"),
    ("bbox=a,b,c,d", "bbox"),
    ("bbox=nan,nan,nan,nan", "bbox"),
    ("bbox=116,39,117,40,1", "bbox"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("limit=100000", "limit"),
    ("limit=-5", "limit"),
    ("offset=-1", "offset"),
    ("offset=x", "offset"),
    ("datum=xyz", "datum"),
    ("status=bogus", "status"),
    ("status=pending", "status"),
    ("facility=bogus", "facility"),
    ("facility=water,bogus", "facility"),
])
def test_bad_parameters_get_400_naming_the_parameter(client, three, query, parameter):
    doc = get_json(client, f"/api/v1/stations?{query}", status=400)
    assert doc["error"]["status"] == 400
    assert doc["error"]["parameter"] == parameter
    assert doc["error"]["message"]


def test_bad_datum_on_one_station_is_400(client, three):
    doc = get_json(client, f"/api/v1/stations/{three['dongcheng']}?datum=mars", status=400)
    assert doc["error"]["parameter"] == "datum"


def test_unknown_or_pending_station_is_404_json(client, fresh_db):
    pending = make_station(fresh_db, name="待审核站", status="pending")
    for url in ("/api/v1/stations/999999", f"/api/v1/stations/{pending}", "/api/v1/nowhere"):
        doc = get_json(client, url, status=404)
        assert doc["error"]["status"] == 404


def test_openapi_document(client):
    doc = get_json(client, "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/stations" in doc["paths"]
    assert "/api/v1/stations/{station_id}" in doc["paths"]
    listing = doc["paths"]["/api/v1/stations"]
    names = {p["name"] for p in listing["get"]["parameters"]}
    assert {"q", "district", "status", "facility", "bbox", "datum", "limit", "offset"} <= names
    assert "post" in listing
    one = doc["paths"]["/api/v1/stations/{station_id}"]
    assert {"get", "patch"} <= set(one)


# --- writing ------------------------------------------------------------------------------

NEW = {"name": "新建API驿站", "address": "北京市朝阳区光华路1号", "lon": 116.4600, "lat": 39.9200,
       "hours": "周一至周五 08:00-20:00", "facilities": ["water", "charging"],
       "manager": "李站长", "manager_phone": "13800000009"}


def test_admin_creates_a_station_with_basic_auth(client, fresh_db):
    response = client.post("/api/v1/stations", json=NEW, headers=basic("admin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    feature = response.get_json()
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    assert feature["properties"]["name"] == "新建API驿站"
    assert feature["properties"]["district"] == "朝阳区"  # derived from the point
    assert feature["properties"]["hours"] == "Mo-Fr 08:00-20:00"
    assert feature["geometry"]["coordinates"] == [116.46, 39.92]
    # stored, public, and without the manager for the public
    public = get_json(client, f"/api/v1/stations/{feature['id']}")
    assert public["properties"]["name"] == "新建API驿站"
    assert "manager" not in public["properties"]
    assert storage.get_station(fresh_db, feature["id"], private=True)["manager"] == "李站长"


def test_admin_creates_a_feature_in_gcj02(client, fresh_db):
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.4600, 39.9200]},
            "properties": {"name": "高德坐标站"}}
    response = client.post("/api/v1/stations?datum=gcj02", json=body, headers=basic("admin"))
    assert response.status_code == 201
    stored = storage.get_station(fresh_db, response.get_json()["id"])
    assert wgs84_to_gcj02(stored["lon"], stored["lat"]) == pytest.approx((116.46, 39.92), abs=1e-6)
    assert distance_m(stored["lon"], stored["lat"], 116.46, 39.92) > 100


def test_a_bad_body_gets_400_with_the_fields(client, fresh_db):
    response = client.post("/api/v1/stations", json={"lon": 116.46, "lat": 95.0},
                           headers=basic("admin"))
    assert response.status_code == 400
    fields = response.get_json()["error"]["fields"]
    assert "name" in fields and "lat" in fields
    assert storage.count_stations(fresh_db) == 0
    response = client.post("/api/v1/stations", data="not json", content_type="application/json",
                           headers=basic("admin"))
    assert response.status_code == 400 and response.get_json()["error"]["parameter"] == "body"
    response = client.post("/api/v1/stations", json=[1, 2], headers=basic("admin"))
    assert response.status_code == 400
    assert storage.count_stations(fresh_db) == 0


def test_only_admins_write(client, fresh_db):
    response = client.post("/api/v1/stations", json=NEW, headers=basic("planner"))
    assert response.status_code == 403 and response.get_json()["error"]["status"] == 403
    response = client.post("/api/v1/stations", json=NEW, headers=basic("reviewer"))
    assert response.status_code == 403
    response = client.post("/api/v1/stations", json=NEW)
    assert response.status_code == 401 and response.get_json()["error"]["status"] == 401
    response = client.post("/api/v1/stations", json=NEW, headers=basic("admin", "wrong-password"))
    assert response.status_code == 401
    assert storage.count_stations(fresh_db) == 0


def test_patch_changes_only_the_fields_sent(client, fresh_db):
    sid = client.post("/api/v1/stations", json=NEW, headers=basic("admin")).get_json()["id"]
    before = storage.get_station(fresh_db, sid, private=True)
    response = client.patch(f"/api/v1/stations/{sid}", json={"address": "北京市朝阳区光华路9号"},
                            headers=basic("admin"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["properties"]["address"] == "北京市朝阳区光华路9号"
    after = storage.get_station(fresh_db, sid, private=True)
    assert after["address"] == "北京市朝阳区光华路9号"
    for name in ("name", "lon", "lat", "district", "hours", "facilities", "status", "manager",
                 "manager_phone", "station_type"):
        assert after[name] == before[name], name
    history = storage.station_history(fresh_db, sid)
    assert history[0]["username"] == "admin" and history[0]["action"] == "edit"


def test_patch_an_unknown_station_is_404_and_bad_values_400(client, fresh_db):
    response = client.patch("/api/v1/stations/999999", json={"name": "x"}, headers=basic("admin"))
    assert response.status_code == 404
    sid = make_station(fresh_db, name="原名")
    response = client.patch(f"/api/v1/stations/{sid}", json={"name": ""}, headers=basic("admin"))
    assert response.status_code == 400 and "name" in response.get_json()["error"]["fields"]
    response = client.patch(f"/api/v1/stations/{sid}", json={"name": "新名"},
                            headers=basic("planner"))
    assert response.status_code == 403
    assert storage.get_station(fresh_db, sid)["name"] == "原名"


def test_a_session_write_needs_the_csrf_header(client, auth, fresh_db):
    auth.login("admin")
    response = client.post("/api/v1/stations", json=NEW)
    assert response.status_code == 400
    assert storage.count_stations(fresh_db) == 0
    token = csrf_token(client, "/admin/stations/new")
    response = client.post("/api/v1/stations", json=NEW, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_data(as_text=True)
    sid = response.get_json()["id"]
    response = client.patch(f"/api/v1/stations/{sid}", json={"name": "改名"})
    assert response.status_code == 400
    response = client.patch(f"/api/v1/stations/{sid}", json={"name": "改名"},
                            headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert storage.get_station(fresh_db, sid)["name"] == "改名"


def test_a_session_of_another_role_cannot_write(client, auth, fresh_db):
    auth.login("planner")
    token = csrf_token(client, "/admin")
    response = client.post("/api/v1/stations", json=NEW, headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert storage.count_stations(fresh_db) == 0


@pytest.mark.parametrize("field, value", [("name", ["国贸驿站"]), ("name", {"zh": "国贸驿站"}),
                                          ("address", ["北京市", "朝阳区"])])
def test_text_fields_must_be_text(client, fresh_db, field, value):
    """A JSON array or object is not a name: refuse it rather than store its Python repr."""
    body = dict(NEW, **{field: value})
    response = client.post("/api/v1/stations", json=body, headers=basic("admin"))
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert storage.count_stations(fresh_db) == 0
    sid = make_station(fresh_db, name="原名", address="原地址")
    response = client.patch(f"/api/v1/stations/{sid}", json={field: value}, headers=basic("admin"))
    assert response.status_code == 400
    stored = storage.get_station(fresh_db, sid)
    assert (stored["name"], stored["address"]) == ("原名", "原地址")
