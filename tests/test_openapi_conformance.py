"""The API answers as /api/v1/openapi.json says: schemathesis runs against the app in process.

Every operation of the document gets generated requests, valid and invalid (a bounded
number, so the file takes well under a minute), sent through WSGI as an admin (a
session); each answer is checked: no server error, a documented status code, a body that
matches the documented schema and content type, invalid requests refused and valid
ones accepted.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, negative_data_rejection,
                                 not_a_server_error, positive_data_acceptance,
                                 response_schema_conformance, status_code_conformance)

from stations.openapi import openapi_document
from tests.conftest import csrf_token, make_station

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance, negative_data_rejection, positive_data_acceptance]
EXAMPLES = 12  # per operation and generation mode (the whole file: under a minute)
SLOW = {"/api/v1/coverage": 8}  # each answer rasterises districts


def beyond_the_schema(method, case) -> bool:
    """Valid by the document, but refused by a rule no JSON Schema can state (a 400 that
    names it): a write's station must stand in the region's districts and not duplicate
    another; a date must exist; a bbox's minimum must not exceed its maximum; coverage needs districts and
    demand layers that exist, and a grid within its cell limit."""
    if method != "GET":
        return True
    if case.path == "/api/v1/coverage":
        return bool({"district", "demand", "cell_m"} & set(case.query or {}))
    at = (case.query or {}).get("at")
    if isinstance(at, str):
        try:
            datetime.fromisoformat(at)
        except ValueError:
            return True  # a day the month does not have: 2026-02-30
    bbox = (case.query or {}).get("bbox")
    if isinstance(bbox, str) and bbox.count(",") == 3:
        minlon, minlat, maxlon, maxlat = (float(x) for x in bbox.split(","))
        return (minlon > maxlon or minlat > maxlat or not -180 <= minlon <= 180
                or not -180 <= maxlon <= 180 or not -90 <= minlat <= 90 or not -90 <= maxlat <= 90)
    return False


OPERATIONS = [(method.upper(), path) for path, item in openapi_document()["paths"].items()
              for method in item]


@pytest.fixture
def api_schema(app, fresh_db, client, auth):
    for i in range(3):
        make_station(fresh_db, name=f"接口站{i}", lon=116.39 + i * 0.01)
    # An admin session (one password check, not one per request as with Basic auth) and
    # its CSRF token; identity, because schemathesis' WSGI transport reads the body
    # without undoing a Content-Encoding.
    auth.login("admin")
    headers = {"Cookie": f"session={client.get_cookie('session').value}",
               "X-CSRFToken": csrf_token(client, "/stations"), "Accept-Encoding": "identity"}
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), headers


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_conforms_to_its_openapi_document(api_schema, method, path, mode):
    schema, headers = api_schema
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=SLOW.get(path, EXAMPLES), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        checks = CHECKS
        if beyond_the_schema(method, case):
            checks = [c for c in CHECKS if c is not positive_data_acceptance]
        case.call_and_validate(headers=headers, checks=checks)

    check()


def test_every_api_route_is_in_the_run(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    routes = {(m, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)) for m, rule in routes}
    assert routes <= set(OPERATIONS)
