"""The selection's public and union-facing writes when they arrive twice: two nominations
of one station at the same moment, the same objection sent again."""

from __future__ import annotations

import io
import threading

import pytest

from stations import campaign as cp
from stations.accounts import tokens, users
from stations.campaign import nominations
from tests.conftest import make_station

UNIONS = ["东城区总工会", "西城区总工会"]


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    users.add_user(db, "dc", "union-pass-1", "union", UNIONS[0], create_union=True)
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 2], lon=116.39 + i * 0.001)
                for i in range(4)]
    keys = {name: tokens.issue_token(db, users.get_user(db, name)["id"]) for name in ("admin", "dc")}
    return {"db": db, "stations": stations, "tokens": keys}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


def _campaign(client, world):
    body = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2,
            "subsidy_yuan": 30000, "reviewers_per_station": 1}
    answer = client.post("/api/v1/campaigns", json=body, headers=bearer(world, "admin"))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


# --- two nominations of one station at once ------------------------------------------------

def test_two_nominations_of_one_station_at_once_answer_201_and_409_never_500(app, world, monkeypatch):
    """Two requests (the union's and the organiser's, each with a photo) pass the early
    duplicate check together, then meet at the write: the second is told, as a later
    duplicate is, that the station is already nominated."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as the live server does: 500, not a raise
    cid = _campaign(app.test_client(), world)
    station = world["stations"][0]
    both_checked = threading.Barrier(2, timeout=30)
    decode = nominations.read_photo

    def read_photo_together(data, filename=""):
        both_checked.wait()  # both requests are past the early check before either writes
        return decode(data, filename)

    monkeypatch.setattr(nominations, "read_photo", read_photo_together)
    answers = [None, None]

    def send(i):
        client = app.test_client()  # its own client, its own connection to the same file
        answers[i] = client.post(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, ("dc", "admin")[i]),
                                 data={"station_id": str(station), "reason": f"骑手常来歇脚，第{i}份推荐",
                                       "photos": [(io.BytesIO(_jpeg()), "front.jpg")]},
                                 content_type="multipart/form-data")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.get_data(as_text=True)[:300] for a in answers]
    refused = next(a for a in answers if a.status_code == 409).get_json()["error"]
    assert refused["parameter"] == "station_id"
    assert "已被推荐" in refused["message"] and "不能重复推荐" in refused["message"]
    db = world["db"]
    assert db.execute("SELECT count(*) FROM nominations WHERE campaign_id = ?", [cid]).fetchone()[0] == 1
    # the refused request's photo is not left behind: one nomination, one photo
    assert db.execute("SELECT count(*) FROM nomination_photos").fetchone()[0] == 1
    from stations.web.campaigns import photo_dir

    with app.test_request_context():
        assert len([p for p in photo_dir().rglob("*") if p.is_file()]) == 1


def test_a_nomination_refused_by_the_unique_rule_answers_the_same_409(world, monkeypatch):
    """Belt and braces: were both duplicate checks ever to miss the row (simulated here),
    the unique constraint's refusal is the same 409, never an IntegrityError (a 500)."""
    db = world["db"]
    admin = users.get_user(db, "admin")
    cid = cp.create_campaign(db, {"name": "区级评选", "year": 2021, "level": "district", "quota": 1,
                                  "subsidy_yuan": 0, "reviewers_per_station": 1}, admin)
    station = world["stations"][0]
    cp.nominate(db, cid, {"station_id": station, "reason": "服务好，骑手常来。"}, admin)
    monkeypatch.setattr(nominations, "_already_nominated", lambda *args: None)  # both checks miss it
    with pytest.raises(cp.CampaignError) as twice:
        cp.nominate(db, cid, {"station_id": station, "reason": "再推荐一次看看。"}, admin)
    assert twice.value.status == 409 and "已被推荐" in twice.value.message and twice.value.field == "station_id"
    assert db.execute("SELECT count(*) FROM nominations").fetchone()[0] == 1


# --- the same objection twice -------------------------------------------------------------

def _in_notice(client, world):
    """A campaign in 公示 listing stations[0] and stations[1] (the admin reviews with no union)."""
    db = world["db"]
    admin = users.get_user(db, "admin")
    cid = _campaign(client, world)
    for sid in world["stations"][:2]:
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")
    cp.assign_reviewers(db, cid, admin)
    keys = [c["key"] for c in cp.get_campaign(db, cid)["rubric"]["criteria"]]
    for a in cp.list_assignments(db, cid):
        cp.save_review(db, cid, a["station_id"], {"scores": {k: 8 for k in keys}, "submit": True},
                       users.get_user(db, a["reviewer"]))
    cp.advance_stage(db, cid, "notice", admin, reason="评审完成")
    return cid


def test_the_same_objection_sent_twice_through_the_api_is_stored_once(app, world):
    client = app.test_client()
    cid = _in_notice(client, world)
    station = world["stations"][0]
    first = client.post(f"/api/v1/campaigns/{cid}/objections",
                        json={"station_id": station, "reason": "夜里经常锁门，进不去。"})
    assert first.status_code == 201 and first.get_json()["duplicate"] is False
    # sent again, with other spacing and line ends (a retry, a second click, a paste)
    again = client.post(f"/api/v1/campaigns/{cid}/objections",
                        json={"station_id": station, "reason": "  夜里经常锁门，\r\n进不去。 "})
    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["duplicate"] is True and body["id"] == first.get_json()["id"]
    assert "已收到相同的异议" in body["message"]
    db = world["db"]
    assert db.execute("SELECT count(*) FROM objections WHERE campaign_id = ?", [cid]).fetchone()[0] == 1
    # other words, another station, or another sender: each a new objection
    other_words = client.post(f"/api/v1/campaigns/{cid}/objections",
                              json={"station_id": station, "reason": "夜里经常锁门，门口也没有标识。"})
    other_station = client.post(f"/api/v1/campaigns/{cid}/objections",
                                json={"station_id": world["stations"][1], "reason": "夜里经常锁门，进不去。"})
    other_sender = client.post(f"/api/v1/campaigns/{cid}/objections", environ_base={"REMOTE_ADDR": "10.0.0.9"},
                               json={"station_id": station, "reason": "夜里经常锁门，进不去。"})
    assert [a.status_code for a in (other_words, other_station, other_sender)] == [201, 201, 201]
    assert db.execute("SELECT count(*) FROM objections WHERE campaign_id = ?", [cid]).fetchone()[0] == 4
    stored = [str(v) for row in db.execute("SELECT * FROM objections") for v in row]
    assert not any("10.0.0.9" in v or "127.0.0.1" in v for v in stored)  # no address is kept


def test_the_same_objection_sent_twice_from_the_page_says_it_was_already_received(app, world):
    from tests.conftest import csrf_token

    client = app.test_client()
    cid = _in_notice(client, world)
    form = {"station_id": str(world["stations"][1]), "reason": "站里的微波炉一直是坏的"}
    for _ in range(2):
        form["csrf_token"] = csrf_token(client, f"/campaigns/{cid}")
        answer = client.post(f"/campaigns/{cid}/objections", data=form, follow_redirects=True)
        assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "已收到相同的异议" in page and "无需重复提交" in page
    assert world["db"].execute("SELECT count(*) FROM objections").fetchone()[0] == 1
