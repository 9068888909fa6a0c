"""The error answers the campaign and ledger APIs share (stations.web.api_common): the
exact JSON a client reads for a body that is not an object, a refusal carrying extra
keys (several field errors, the missing reviews) and a rate-limited check-in."""

from __future__ import annotations

import base64
from datetime import timedelta

from stations import ledger
from tests.conftest import PASSWORDS, make_station


def basic(name, password=None):
    token = base64.b64encode(f"{name}:{password or PASSWORDS[name]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_body_that_is_not_an_object_is_the_same_400_on_both_apis(client, fresh_db):
    station = make_station(fresh_db)
    for path in ("/api/v1/campaigns", f"/api/v1/stations/{station}/ledger", "/api/v1/meetings"):
        answer = client.post(path, json=["不是对象"], headers=basic("admin"))
        assert answer.status_code == 400, path
        assert answer.get_json() == {"error": {"status": 400, "message": "请求体应是 JSON 对象",
                                               "parameter": "body"}}, path


def test_a_ledger_refusal_lists_every_field_only_when_there_are_several(client, fresh_db):
    station = make_station(fresh_db)
    day = (ledger.today() - timedelta(days=1)).isoformat()
    one = client.post(f"/api/v1/stations/{station}/ledger", json={"date": day, "visitors": {"rider": -1}},
                      headers=basic("admin")).get_json()["error"]
    assert set(one) == {"status", "message", "parameter"} and one["parameter"] == "visitors.rider"
    two = client.post(f"/api/v1/stations/{station}/ledger",
                      json={"date": day, "visitors": {"rider": -1, "courier": "abc"}},
                      headers=basic("admin")).get_json()["error"]
    assert two["status"] == 400 and {"visitors.rider", "visitors.courier"} <= set(two["errors"])


def test_a_campaign_refusal_carries_its_detail_beside_the_message(client, fresh_db):
    station = make_station(fresh_db, host_union="东城区总工会")
    admin = basic("admin")
    created = client.post("/api/v1/campaigns", json={"name": "最美站点", "year": 2021, "level": "municipal",
                                                     "quota": 1, "subsidy_yuan": 0, "reviewers_per_station": 1},
                          headers=admin)
    cid = created.get_json()["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": station, "reason": "骑手都说好用"},
                       headers=admin).status_code == 201
    assert client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "review"}, headers=admin).status_code == 200
    assert client.post(f"/api/v1/campaigns/{cid}/assignments", headers=admin).status_code == 201
    early = client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "notice"}, headers=admin)
    error = early.get_json()["error"]
    assert early.status_code == 409 and error["status"] == 409 and error["parameter"] == "force"
    assert error["missing"] == 1 and "评审未提交" in error["message"]


def test_a_rate_limited_check_in_answers_429_with_retry_after_in_body_and_header(client, fresh_db):
    station = make_station(fresh_db, hours="24/7")  # open whatever hour the suite runs
    assert client.post(f"/api/v1/stations/{station}/checkins").status_code == 201
    refused = client.post(f"/api/v1/stations/{station}/checkins")
    error = refused.get_json()["error"]
    assert refused.status_code == 429 and set(error) == {"status", "message", "retry_after"}
    assert error["status"] == 429 and "签到" in error["message"] and error["retry_after"] > 0
    assert refused.headers["Retry-After"] == str(error["retry_after"])
