"""Navigation links: every parameter encoded, a name cannot add a field or a destination."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from geodata.datum import wgs84_to_bd09, wgs84_to_gcj02
from stations.riders.search import navigation_links
from tests.conftest import make_station

STATION = {"lon": 116.4, "lat": 39.9, "address": "东长安街1号"}
INJECTIONS = [
    "站;coord:31.2,121.4;title:假",
    "站|name:假&destination=latlng:31.2,121.4",
    "站,121.4,31.2,假站",
    "站&to=31.2,121.4&tocoord=31.2,121.4#x",
    "站\n换行\x00\u2028站",
    "站%3Bcoord%3A31.2%2C121.4",
]


def params(url):
    parts = urlsplit(url)
    return parts.netloc + parts.path, parse_qs(parts.query, keep_blank_values=True)


@pytest.mark.parametrize("name", INJECTIONS)
@pytest.mark.parametrize("origin", [None, (116.3, 39.95)])
def test_a_name_cannot_add_a_destination(name, origin):
    links = navigation_links({**STATION, "name": name}, origin, tencent_referer="key;x:1")
    glon, glat = wgs84_to_gcj02(116.4, 39.9)
    blon, blat = wgs84_to_bd09(116.4, 39.9)

    where, q = params(links["amap"])
    assert where == "uri.amap.com/navigation"
    assert all(len(v) == 1 for v in q.values()), q  # no parameter given twice
    lon, lat, shown = q["to"][0].split(",", 2)
    assert (float(lon), float(lat)) == pytest.approx((glon, glat), abs=1e-6)
    assert "," not in shown and shown.strip()

    where, q = params(links["tencent"])
    assert where == "apis.map.qq.com/uri/v1/routeplan" and q["type"] == ["bike"]
    assert all(len(v) == 1 for v in q.values()), q
    assert q["tocoord"] == [f"{glat:.6f},{glon:.6f}"]
    assert not set(q["to"][0]) & set(";:,|")
    assert q["referer"] == ["key；x：1"]

    where, q = params(links["baidu"])
    assert all(len(v) == 1 for v in q.values()), q
    if origin is None:
        assert where == "api.map.baidu.com/marker"
        assert q["location"] == [f"{blat:.6f},{blon:.6f}"]
        assert not set(q["title"][0]) & set(";:,|")
    else:
        assert where == "api.map.baidu.com/direction" and q["mode"] == ["riding"]
        dest = q["destination"][0]
        assert dest.count("|") == 1 and dest.count("latlng:") == 1
        assert dest.startswith(f"latlng:{blat:.6f},{blon:.6f}|name:")
    for url in links.values():
        assert not any(ord(c) < 32 or c in " \u2028" for c in url)


def test_names_keep_their_meaning():
    links = navigation_links({**STATION, "name": "朝阳;望京：驿站"})
    shown = params(links["amap"])[1]["to"][0].split(",", 2)[2]
    assert shown == "朝阳；望京：驿站"  # full-width look-alikes, readable


def test_pages_link_with_the_configured_referer(tmp_path, fresh_db, db_path):
    from stations.web import create_app

    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "k",
                      "YIZHAN_TENCENT_REFERER": "MYKEY-123"})
    sid = make_station(fresh_db, name="站;coord:31.2,121.4;title:假")
    client = app.test_client()
    for path in (f"/stations/{sid}", "/nearby?lat=39.9087&lon=116.3975"):
        page = client.get(path).get_data(as_text=True)
        hrefs = re.findall(r'class="nav-(?:amap|baidu|tencent)" href="([^"]+)"', page)
        assert len(hrefs) == 3, path
        for href in hrefs:
            assert "coord%3A31.2" not in href and "coord:31.2" not in href
            assert "%EF%BC%9Bcoord%EF%BC%9A31.2" in href  # "；coord：31.2", inert
        assert "referer=MYKEY-123" in hrefs[2]
