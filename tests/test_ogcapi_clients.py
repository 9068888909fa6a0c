"""/ogcapi read by the GIS clients people use: GDAL's OAPIF driver (through pyogrio, as
ogr2ogr, QGIS and ArcGIS read it) and OWSLib's ``Features``.

The server runs in its own process (werkzeug): GDAL holds the GIL while it fetches, so
a server thread in the test's own process would never answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyogrio import list_layers, read_dataframe, read_info

from stations import storage
from stations.accounts import users
from tests.conftest import make_station

ROOT = Path(__file__).resolve().parents[1]
SERVER = """
from werkzeug.serving import make_server
from stations.web import create_app
server = make_server("127.0.0.1", 0, create_app(), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""
PUBLIC, PENDING, AWARDED = 230, 4, 3


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A server over a registry of 230 public stations (3 awarded) and 4 pending; its URL."""
    path = tmp_path_factory.mktemp("ogc") / "yizhan.db"
    db = storage.connect(path)
    storage.migrate(db)
    for i in range(PUBLIC + PENDING):
        make_station(db, name=f"图层站{i}", lon=116.20 + i * 0.001, lat=39.90 + (i % 7) * 0.01,
                     status="pending" if i >= PUBLIC else "active",
                     awards=[{"title": "最美站点"}] if i in (10, 20, 30) else [])
    users.add_user(db, "gis-admin", "gis-admin-pass-1", "admin")
    db.conn.close()
    env = {**os.environ, "YIZHAN_DB": str(path), "YIZHAN_SECRET_KEY": "ogc-test"}
    server = subprocess.Popen([sys.executable, "-c", SERVER], env=env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def test_gdal_lists_the_collections_and_reads_every_station_in_a_bbox(live):
    source = f"OAPIF:{live}/ogcapi"
    assert [name for name, _ in list_layers(source)] == ["stations", "awarded"]
    info = read_info(source, layer="stations")
    assert {"name", "district", "facilities", "status", "updated_at"} <= set(info["fields"])
    assert "manager" not in info["fields"] and "manager_phone" not in info["fields"]
    frame = read_dataframe(source, layer="stations", bbox=(116.0, 39.5, 117.0, 40.5))
    assert len(frame) == PUBLIC  # every public station, over several pages, none pending
    assert frame.crs.to_string() in ("OGC:CRS84", "EPSG:4326")
    assert sorted(frame["name"]) == sorted(f"图层站{i}" for i in range(PUBLIC))
    first = frame.set_index("name").loc["图层站0"].geometry
    assert (round(first.x, 4), round(first.y, 4)) == (116.2, 39.9)  # longitude first on the map
    assert len(read_dataframe(source, layer="stations", bbox=(116.2995, 39.0, 116.3205, 41.0))) == 21
    assert len(read_dataframe(source, layer="awarded")) == AWARDED


def test_gdal_with_basic_auth_reads_what_an_admin_may_see(live):
    source = f"OAPIF:{live}/ogcapi"
    from pyogrio import set_gdal_config_options

    set_gdal_config_options({"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": "gis-admin:gis-admin-pass-1"})
    try:
        frame = read_dataframe(source, layer="stations")
    finally:
        set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_USERPWD": None})
    assert len(frame) == PUBLIC + PENDING and "manager_phone" in frame.columns


def test_owslib_reads_landing_conformance_collections_items_and_one_item(live):
    from owslib.ogcapi.features import Features

    service = Features(f"{live}/ogcapi")
    assert "驿站" in service.response["title"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in service.conformance()["conformsTo"]
    assert "/ogcapi/collections/{collectionId}/items" in service.api()["paths"]
    assert service.feature_collections() == ["stations", "awarded"]
    assert service.collection("stations")["title"] == "工会户外劳动者服务站点"
    page = service.collection_items("stations", limit=50, bbox=[116.0, 39.5, 117.0, 40.5])
    assert page["numberMatched"] == PUBLIC and page["numberReturned"] == 50
    one = service.collection_item("stations", str(page["features"][0]["id"]))
    assert one["properties"]["name"] == "图层站0" and one["geometry"]["coordinates"] == [116.2, 39.9]
    assert "manager" not in one["properties"]
    assert "facilities" in service.collection_schema("stations")["properties"]
