"""Every API route that takes a body refuses hostile JSON with a 4xx, never a 500."""

import base64

import pytest

from tests.conftest import PASSWORDS, make_station

BODIES = {
    "deep-array": "[" * 100_000 + "]" * 100_000,
    "deep-object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "broken": '{"name": "站", ',
    "not-an-object": '"just a string"',
    "nan": '{"name": NaN}',
    "nul": '{"name": "\\u0000"}',
}


def write_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
                path = rule.rule
                for arg in rule.arguments:
                    path = path.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "1")
                yield method, path


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_hostile_json_bodies_never_cause_a_server_error(app, client, fresh_db, kind):
    make_station(fresh_db)
    auth = base64.b64encode(f"admin:{PASSWORDS['admin']}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
    routes = list(write_routes(app))
    assert len(routes) >= 5  # stations, campaigns, ledger… all walked
    for method, path in routes:
        response = client.open(path, method=method, data=BODIES[kind], headers=headers)
        assert response.status_code < 500, (method, path, response.status_code)
        if response.status_code == 400:
            assert response.get_json()["error"]["message"], (method, path)
