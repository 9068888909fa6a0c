"""No control character enters the system: refused at the door of every request (query,
form, file names, JSON) and again by the core's clean-text helpers; nothing is stored."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta

import pytest
from werkzeug.datastructures import MultiDict

from stations.riders import feedback
from stations import ledger, storage
from stations.accounts import users
from stations.text import forbidden_character
from tests.conftest import PASSWORDS, csrf_token, make_station

CHARS = ["\x00", "\x1b", "\x7f", "\x85"]
_addresses = itertools.count(1)


def stored_control_characters(db) -> list[tuple[str, str]]:
    """(table, column) of every stored text holding a forbidden character."""
    found = []
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'stations_rtree%'")]
    for table in tables:
        cursor = db.execute(f'SELECT * FROM "{table}"')
        columns = [c[0] for c in cursor.description]
        for row in cursor:
            found += [(table, c) for c, v in zip(columns, row) if isinstance(v, str) and forbidden_character(v)]
    return found


def basic(role="admin"):
    raw = f"{role}:{PASSWORDS[role]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def yesterday() -> str:
    day = ledger.today() - timedelta(days=1)
    return (day if day.year == ledger.today().year else ledger.today()).isoformat()


# --- the rider's feedback form --------------------------------------------------------

def post_feedback(client, station_id, **data):
    token = csrf_token(client, f"/stations/{station_id}")
    return client.post(f"/stations/{station_id}/feedback", data={"csrf_token": token, **data},
                       environ_base={"REMOTE_ADDR": f"10.1.0.{next(_addresses) % 250}"})


@pytest.mark.parametrize("char", CHARS)
@pytest.mark.parametrize("field, value", [("note", "水很热{}"), ("rating", "5{}"), ("found", "hot_water{}")])
def test_a_control_character_in_any_feedback_input_is_refused_and_nothing_is_stored(app, fresh_db, field,
                                                                                  value, char):
    sid = make_station(fresh_db)
    client = app.test_client()
    data = {"rating": "4", "note": "好", field: value.format(char)}
    response = post_feedback(client, sid, **data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"U+{ord(char):04X}" in page and "请删除后再提交" in page and field in page
    assert char not in page
    assert fresh_db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0
    # the same form without the character is taken
    assert post_feedback(client, sid, **dict(data, **{field: value.format("")})).status_code == 302
    assert fresh_db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 1


def test_a_note_on_several_lines_is_feedback(app, fresh_db):
    sid = make_station(fresh_db)
    assert post_feedback(app.test_client(), sid, note="第一行\r\n第二行\t好").status_code == 302
    assert feedback.recent_feedback(fresh_db, sid)[0]["note"] == "第一行\r\n第二行\t好"


@pytest.mark.parametrize("field, value", [("note", "好\x00"), ("found", "hot_water\x1b"), ("rating", "5\x00")])
def test_the_core_refuses_control_characters_in_feedback_too(fresh_db, field, value):
    sid = make_station(fresh_db)
    with pytest.raises(feedback.FeedbackError) as refused:
        feedback.submit_feedback(fresh_db, sid, MultiDict({"rating": "4", field: value}), client="c",
                                 limits={"per_client": 5, "global": 100})
    assert "控制字符" in refused.value.errors[field]
    assert fresh_db.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0


# --- many doors: each refuses, stores nothing, and takes the same request without it ----

def _form(path_of, data_of, role="admin"):
    def send(app, ids, value):
        client = app.test_client()
        if role:
            token = csrf_token(client)
            client.post("/login", data={"username": role, "password": PASSWORDS[role], "csrf_token": token})
        path = path_of(ids)
        token = csrf_token(client)
        return client.post(path, data={"csrf_token": token, **data_of(ids, value)},
                           environ_base={"REMOTE_ADDR": f"10.2.0.{next(_addresses) % 250}"})
    return send


def _json(method, path_of, body_of, role="admin"):
    def send(app, ids, value):
        return app.test_client().open(path_of(ids), method=method, json=body_of(ids, value),
                                      headers=basic(role) if role else {})
    return send


CAMPAIGN = {"year": "2026", "level": "district", "quota": "3", "subsidy_yuan": "0",
            "reviewers_per_station": "1"}

DOORS = {
    "feedback form": _form(lambda i: f"/stations/{i['station']}/feedback",
                           lambda i, v: {"rating": "5", "note": f"热水{v}"}, role=None),
    "login form": _form(lambda i: "/login", lambda i, v: {"username": f"admin{v}", "password": PASSWORDS["admin"]},
                        role=None),
    "login password": _form(lambda i: "/login", lambda i, v: {"username": "admin",
                                                              "password": PASSWORDS["admin"] + v}, role=None),
    "ledger day form": _form(lambda i: f"/ledger/stations/{i['station']}",
                             lambda i, v: {"date": yesterday(), "v_rider": "3", "note": f"雨天{v}"}),
    "meeting form": _form(lambda i: "/ledger/meetings",
                          lambda i, v: {"date": yesterday(), "kind": "worker", "station_id": str(i["station"]),
                                        "attendees": "12", "note": f"座谈{v}"}),
    "meeting place": _form(lambda i: "/ledger/meetings",
                           lambda i, v: {"date": yesterday(), "kind": "worker", "district": "东城区",
                                         "place": f"工会大厅{v}", "attendees": "12"}),
    "ledger flag note": _form(lambda i: f"/ledger/flags/{i['station']}/quiet",
                              lambda i, v: {"kind": "claims", "note": f"已电话核实{v}"}),
    "campaign form": _form(lambda i: "/campaigns/new", lambda i, v: {**CAMPAIGN, "name": f"评选{v}"}),
    "station form": _form(lambda i: "/admin/stations/new",
                          lambda i, v: {"name": f"新站{v}", "address": "北京市东城区", "lon": "116.40",
                                        "lat": "39.91", "datum": "wgs84", "station_type": "warm_station",
                                        "status": "active"}),
    "station form datum": _form(lambda i: "/admin/stations/new",
                                lambda i, v: {"name": "新站", "address": "北京市东城区", "lon": "116.40",
                                              "lat": "39.91", "datum": f"wgs84{v}", "station_type": "warm_station",
                                              "status": "active"}),
    "station API": _json("POST", lambda i: "/api/v1/stations",
                         lambda i, v: {"name": f"接口站{v}", "lon": 116.41, "lat": 39.92}),
    "station API patch": _json("PATCH", lambda i: f"/api/v1/stations/{i['station']}",
                               lambda i, v: {"note": f"备注{v}"}),
    "meeting API": _json("POST", lambda i: "/api/v1/meetings",
                         lambda i, v: {"date": yesterday(), "kind": "worker", "station_id": i["station"],
                                       "attendees": 5, "note": f"座谈{v}"}),
    "ledger API": _json("POST", lambda i: f"/api/v1/stations/{i['station']}/ledger",
                        lambda i, v: {"date": yesterday(), "visitors": {"rider": 2}, "note": f"雨{v}"}),
    "campaign API": _json("POST", lambda i: "/api/v1/campaigns", lambda i, v: {
        **{k: int(x) if x.isdigit() else x for k, x in CAMPAIGN.items()}, "name": f"接口评选{v}"}),
    "campaign API key": _json("POST", lambda i: "/api/v1/campaigns", lambda i, v: {
        **{k: int(x) if x.isdigit() else x for k, x in CAMPAIGN.items()}, "name": "评选", f"x{v}": 1}
        if v else {**{k: int(x) if x.isdigit() else x for k, x in CAMPAIGN.items()}, "name": "评选二"}),
}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_refuses_a_nul_and_stores_nothing(app, fresh_db, door):
    users.add_user(fresh_db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    ids = {"station": make_station(fresh_db, host_union="东城区总工会")}
    send = DOORS[door]
    for char in ("\x00", "\x1b"):
        before = storage.count_stations(fresh_db)
        response = send(app, ids, char)
        assert response.status_code == 400, (door, response.status_code, response.get_data(as_text=True)[:300])
        text = response.get_data(as_text=True)
        assert "控制字符" in text and char not in text
        assert stored_control_characters(fresh_db) == []
        assert storage.count_stations(fresh_db) == before
        if door.startswith("login"):
            assert fresh_db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    # the very same request without the character goes through
    response = send(app, ids, "")
    assert response.status_code < 400, (door, response.status_code, response.get_data(as_text=True)[:300])


def test_an_api_refusal_names_the_field(client, fresh_db):
    sid = make_station(fresh_db)
    response = client.post(f"/api/v1/stations/{sid}/ledger", headers=basic(),
                           json={"date": yesterday(), "visitors": {"rider": 2}, "note": "雨\x00"})
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["parameter"] == "note"
    assert error["message"] == "备注（note）含有控制字符 U+0000（NUL），请删除后再提交。"
    nested = client.post("/api/v1/campaigns", headers=basic(), json={"name": "评选", "rubric": {
        "criteria": [{"key": "site", "name": "站点\x1b"}]}})
    assert nested.status_code == 400 and nested.get_json()["error"]["parameter"] == "rubric.criteria[0].name"


def test_a_query_argument_with_a_control_character_is_refused(client, fresh_db):
    make_station(fresh_db, name="东城驿站")
    response = client.get("/stations", query_string={"q": "东城\x00"})
    assert response.status_code == 400 and "U+0000" in response.get_data(as_text=True)
    api = client.get("/api/v1/stations", query_string={"q": "东城\x1b"})
    assert api.status_code == 400 and api.get_json()["error"]["parameter"] == "q"
    assert client.get("/stations", query_string={"q": "东城"}).status_code == 200


def test_an_upload_named_with_a_control_character_is_refused(client, auth, fresh_db):
    import io

    auth.login("admin")
    token = csrf_token(client, "/admin/import")
    data = "名称,经度,纬度\n甲驿站,116.42,39.92\n".encode()
    response = client.post("/admin/import", data={"csrf_token": token,
                                                  "file": (io.BytesIO(data), "stations\x00.csv")})
    assert response.status_code == 400 and "文件名" in response.get_data(as_text=True)
    assert fresh_db.execute("SELECT count(*) FROM import_jobs").fetchone()[0] == 0


def test_a_body_nested_deeply_is_walked_without_a_server_error(client, fresh_db):
    body = '{"name": ' + '[' * 900 + '"\\u0000"' + ']' * 900 + '}'
    response = client.post("/api/v1/campaigns", data=body, content_type="application/json", headers=basic())
    assert response.status_code == 400


def test_every_post_route_stores_no_control_character(app, fresh_db):
    """Every write route, signed in as admin, a control character in each common field name."""
    sid = make_station(fresh_db)
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                "csrf_token": csrf_token(client)})
    fields = ["name", "note", "reason", "place", "district", "kind", "date", "resolution", "username",
              "password", "station_id", "rating", "found", "level", "stage", "action", "q"]
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", str(sid)).replace(f"<{arg}>", "1")
            if path == "/logout":
                continue
            token = csrf_token(client, "/stations")
            form = {name: f"值\x00{name}" for name in fields}
            answers = [client.open(path, method=method, data={"csrf_token": token, **form}),
                       client.open(path, method=method, json=form, headers={"X-CSRFToken": token})]
            for answer in answers:
                assert answer.status_code < 500, (method, path)
    assert stored_control_characters(fresh_db) == []


# --- the core refuses them too (the command line, any caller that is not a request) ------

def test_passwords_and_union_names_refuse_control_characters(fresh_db):
    with pytest.raises(users.UserError, match=r"控制字符 U\+001B"):
        users.add_user(fresh_db, "dc", "union\x1bpass-1", "union", "东城区总工会")
    with pytest.raises(users.UserError, match=r"控制字符 U\+0000"):
        users.add_user(fresh_db, "dc", "union-pass-1", "union", "东城区\x00总工会")
    users.add_user(fresh_db, "dc", "union-pass-1", "union", "东城区总工会", create_union=True)
    with pytest.raises(users.UserError, match=r"控制字符 U\+000D"):
        users.set_password(fresh_db, "dc", "new-password\r")
    assert stored_control_characters(fresh_db) == []


def test_a_ledger_flag_note_refuses_control_characters(fresh_db):
    sid = make_station(fresh_db)
    with pytest.raises(ledger.LedgerError, match="控制字符"):
        ledger.quiet_flag(fresh_db, sid, "claims", username="admin", note="已核实\x00")
    assert fresh_db.execute("SELECT count(*) FROM ledger_flag_reviews").fetchone()[0] == 0


def test_rubric_names_refuse_control_characters(fresh_db):
    from stations.campaign import CampaignError
    from stations.campaign.rubric import default_rubric, validate_rubric

    rubric = default_rubric()
    rubric["criteria"][0]["name"] = "站点\x00"
    with pytest.raises(CampaignError) as refused:
        validate_rubric(rubric)
    assert "控制字符 U+0000" in refused.value.message


def test_the_api_document_states_the_same_text_rule():
    """What the OpenAPI file promises of free text is what the guard enforces (lone
    surrogates aside: no UTF-8 request can carry one)."""
    import re as _re

    from stations.openapi import openapi_document
    from stations.text import SCHEMA_PATTERN, forbidden_character

    rule = _re.compile(SCHEMA_PATTERN)
    for code in [*range(0xD800), *range(0xE000, 0x10000)]:
        char = chr(code)
        assert (rule.match(char) is None) == (forbidden_character(char) is not None), hex(code)
    query = {p["name"]: p["schema"] for p in openapi_document()["paths"]["/api/v1/stations"]["get"]["parameters"]}
    assert query["q"]["pattern"] == SCHEMA_PATTERN
    assert "pattern" not in query["status"]  # an enum keeps its own rule
