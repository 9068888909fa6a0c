"""QR sheets encode the configured public address, never an attacker's Host header."""

import pytest

from stations.riders.qr import UntrustedHost, public_url
from stations.web import create_app
from tests.conftest import make_station


def make_client(db_path, **config):
    app = create_app({"YIZHAN_DB": str(db_path), "TESTING": True, "YIZHAN_SECRET_KEY": "k",
                      **config})
    return app.test_client()


@pytest.mark.parametrize("path", ["/stations/{id}/qr", "/stations/{id}/qr.svg"])
def test_a_forged_host_is_refused_without_a_public_url(fresh_db, db_path, path):
    sid = make_station(fresh_db)
    client = make_client(db_path)
    response = client.get(path.format(id=sid), headers={"Host": "evil.example"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "evil.example" not in body
    assert "YIZHAN_PUBLIC_URL" in body and "二维码" in body


def test_the_public_url_wins_over_any_host(fresh_db, db_path):
    sid = make_station(fresh_db)
    client = make_client(db_path, YIZHAN_PUBLIC_URL="https://yizhan.example.cn/")
    page = client.get(f"/stations/{sid}/qr", headers={"Host": "evil.example"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"https://yizhan.example.cn/stations/{sid}" in text and "evil.example" not in text


def test_a_trusted_host_is_used_when_no_public_url_is_set(fresh_db, db_path):
    sid = make_station(fresh_db)
    client = make_client(db_path, YIZHAN_TRUSTED_HOSTS="127.0.0.1, yizhan.local")
    page = client.get(f"/stations/{sid}/qr", headers={"Host": "yizhan.local:8080"})
    assert f"http://yizhan.local:8080/stations/{sid}" in page.get_data(as_text=True)


def test_public_url_rules():
    assert public_url("/s/1", base_url="https://a.cn") == "https://a.cn/s/1"
    assert public_url("/s/1", host="localhost:5000", trusted_hosts=["localhost"]) == \
        "http://localhost:5000/s/1"
    with pytest.raises(UntrustedHost):
        public_url("/s/1", host="localhost.evil.example", trusted_hosts=["localhost"])
    with pytest.raises(UntrustedHost):
        public_url("/s/1", host="", trusted_hosts=["localhost"])
