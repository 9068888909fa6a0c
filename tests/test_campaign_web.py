"""The selection through the API (bearer tokens) and the pages, as each user meets it."""

from __future__ import annotations

import io
import re

import pytest

from stations import storage
from stations.accounts import tokens, users
from tests.conftest import PASSWORDS, csrf_token, make_station

UNIONS = ["东城区总工会", "西城区总工会", "海淀区总工会"]
KEYS = ["site", "signage", "facilities", "publicity", "service", "rules", "effect"]


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    for i in range(4):
        users.add_user(db, f"rv{i}", "review-pass-1", "reviewer", UNIONS[i % 3], create_union=True)
    users.add_user(db, "dc", "union-pass-1", "union", UNIONS[0], create_union=True)
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 3], lon=116.39 + i * 0.001)
                for i in range(6)]
    keys = {name: tokens.issue_token(db, users.get_user(db, name)["id"])
            for name in ["admin", "reviewer", "dc"] + [f"rv{i}" for i in range(4)]}
    return {"db": db, "stations": stations, "tokens": keys}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


def _create(client, world, **over):
    body = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2,
            "subsidy_yuan": 30000, "reviewers_per_station": 2, **over}
    answer = client.post("/api/v1/campaigns", json=body, headers=bearer(world, "admin"))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _review_stage(client, world, cid, stations):
    for sid in stations:
        ok = client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": sid, "reason": "骑手都说好用"},
                         headers=bearer(world, "admin"))
        assert ok.status_code == 201, ok.get_json()
    assert client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "review", "reason": "截止"},
                       headers=bearer(world, "admin")).status_code == 200
    answer = client.post(f"/api/v1/campaigns/{cid}/assignments", headers=bearer(world, "admin"))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["assignments"]


def test_campaign_api_shape_and_bad_input_names_the_field(client, world):
    cid = _create(client, world)
    got = client.get(f"/api/v1/campaigns/{cid}", headers=bearer(world, "dc")).get_json()
    assert got["stage"] == "nomination" and got["notice_days"] == 7
    first = got["rubric"]["criteria"][0]
    assert (first["key"], first["name"]) == ("site", "有场地") and {"key", "name", "priority"} <= set(first["items"][0])
    bad = client.post("/api/v1/campaigns", json={"name": "x", "year": 2021, "level": "galactic", "quota": 1,
                                                 "subsidy_yuan": 1, "reviewers_per_station": 1},
                      headers=bearer(world, "admin"))
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "level"
    assert "级别" in bad.get_json()["error"]["message"]
    worse = client.post("/api/v1/campaigns", json={"name": "x", "year": "二〇二一", "level": "national"},
                        headers=bearer(world, "admin"))
    assert worse.get_json()["error"]["parameter"] == "year"
    assert client.post("/api/v1/campaigns", json={}, headers=bearer(world, "dc")).status_code == 403
    skip = client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "confirmed"}, headers=bearer(world, "admin"))
    assert skip.status_code == 409 and skip.get_json()["error"]["parameter"] == "stage"


def test_a_cookie_session_needs_csrf_but_a_bearer_call_does_not(client, auth, world):
    auth.login("admin")
    body = {"name": "会话创建", "year": 2021, "level": "district", "quota": 1, "subsidy_yuan": 0,
            "reviewers_per_station": 1}
    assert client.post("/api/v1/campaigns", json=body).status_code == 400  # no X-CSRFToken
    token = csrf_token(client, "/campaigns/new")
    assert client.post("/api/v1/campaigns", json=body, headers={"X-CSRFToken": token}).status_code == 201


def test_union_token_nominates_its_own_only(client, world):
    cid = _create(client, world)
    own, other = world["stations"][0], world["stations"][1]
    ok = client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": own, "reason": "本工会的好站点"},
                     headers=bearer(world, "dc"))
    assert ok.status_code == 201 and ok.get_json()["station_id"] == own
    refused = client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": other, "reason": "别人家的站点"},
                          headers=bearer(world, "dc"))
    assert refused.status_code == 403 and "本工会" in refused.get_json()["error"]["message"]
    dup = client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": own, "reason": "再推荐一次"},
                      headers=bearer(world, "admin"))
    assert dup.status_code == 409


def test_forged_assignment_change_is_403_and_recorded(client, world):
    cid = _create(client, world)
    pairs = _review_stage(client, world, cid, world["stations"][:4])
    target = pairs[0]
    host = storage.get_station(world["db"], target["station_id"])["host_union"]
    conflicted = next(f"rv{i}" for i in range(4) if UNIONS[i % 3] == host)
    forged = client.post(f"/api/v1/campaigns/{cid}/assignments/change",
                         json={"station_id": target["station_id"], "from_reviewer": target["reviewer"],
                               "to_reviewer": conflicted}, headers=bearer(world, "admin"))
    assert forged.status_code == 403
    assert world["db"].execute("SELECT count(*) FROM campaign_events WHERE kind = 'refused'").fetchone()[0] == 1
    assert {(a["station_id"], a["reviewer"]) for a in
            client.get(f"/api/v1/campaigns/{cid}/assignments", headers=bearer(world, "admin")).get_json()["assignments"]} \
        == {(a["station_id"], a["reviewer"]) for a in pairs}


def test_reviews_through_the_api_blind_locked_and_ranked(client, world):
    cid = _create(client, world)
    stations = world["stations"][:4]
    early = client.post(f"/api/v1/campaigns/{cid}/reviews", json={"station_id": stations[0], "scores": {}},
                        headers=bearer(world, "rv0"))
    assert early.status_code == 409
    pairs = _review_stage(client, world, cid, stations)
    mine = client.get(f"/api/v1/campaigns/{cid}/assignments", headers=bearer(world, "rv1")).get_json()["assignments"]
    assert mine and {a["reviewer"] for a in mine} == {"rv1"}
    assert client.get(f"/api/v1/campaigns/{cid}/ranking", headers=bearer(world, "rv1")).status_code == 403
    someone_else = next(a for a in pairs if a["reviewer"] != "rv1" and
                        a["station_id"] not in {m["station_id"] for m in mine})
    stranger = client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, "rv1"),
                           json={"station_id": someone_else["station_id"], "scores": {k: 5 for k in KEYS}})
    assert stranger.status_code == 403
    for n, a in enumerate(pairs):
        score = 9 - stations.index(a["station_id"])
        answer = client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, a["reviewer"]), json={
            "station_id": a["station_id"], "scores": {k: score for k in KEYS}, "items": ["ledger"],
            "note": "现场核实", "submit": True})
        assert answer.status_code == 201 and answer.get_json()["submitted"] is True
    again = client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, pairs[0]["reviewer"]),
                        json={"station_id": pairs[0]["station_id"], "scores": {k: 1 for k in KEYS}, "submit": True})
    assert again.status_code == 409
    ranking = client.get(f"/api/v1/campaigns/{cid}/ranking", headers=bearer(world, "admin")).get_json()
    rows = ranking["ranking"]
    assert [r["station_id"] for r in rows] == stations and rows[0]["total"] == 90.0
    assert set(rows[0]) >= {"rank", "station_id", "name", "total", "criteria", "reviews", "spread", "flags"}
    assert rows[0]["criteria"]["site"] == 9 and rows[0]["reviews"] == 2
    assert ranking["agreement"]["kendall_w"] is not None
    bad = client.get(f"/api/v1/campaigns/{cid}/ranking?normalise=maybe", headers=bearer(world, "admin"))
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "normalise"


def test_notice_objection_replacement_confirmation_and_the_record(client, auth, world):
    from openpyxl import load_workbook

    cid = _create(client, world)
    stations = world["stations"][:4]
    pairs = _review_stage(client, world, cid, stations)
    assert client.get(f"/api/v1/campaigns/{cid}/notice").status_code == 404
    for a in pairs:
        client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, a["reviewer"]), json={
            "station_id": a["station_id"], "scores": {k: 9 - stations.index(a["station_id"]) for k in KEYS},
            "submit": True})
    assert client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "notice", "reason": "评审完成"},
                       headers=bearer(world, "admin")).status_code == 200
    notice = client.get(f"/api/v1/campaigns/{cid}/notice").get_json()
    assert notice["stage"] == "notice" and notice["period"]["start"]
    assert [s["station_id"] for s in notice["stations"]] == stations[:2]
    bad = client.post(f"/api/v1/campaigns/{cid}/objections", json={"station_id": stations[3], "reason": "不在名单上的"})
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "station_id"
    short = client.post(f"/api/v1/campaigns/{cid}/objections", json={"station_id": stations[0], "reason": "差"})
    assert short.status_code == 400 and short.get_json()["error"]["parameter"] == "reason"
    made = client.post(f"/api/v1/campaigns/{cid}/objections",
                       json={"station_id": stations[0], "reason": "夜里经常锁门进不去"})
    assert made.status_code == 201
    oid = made.get_json()["id"]
    auth.login("admin")
    manage = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert "夜里经常锁门进不去" in manage
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d</p><p>夜里经常锁门进不去", manage)  # not 2026-11-26T08:32
    auth.logout()
    resolved = client.post(f"/api/v1/campaigns/{cid}/objections/{oid}", json={"upheld": True, "reason": "核实属实"},
                           headers=bearer(world, "admin"))
    assert resolved.status_code == 200
    assert [s["station_id"] for s in client.get(f"/api/v1/campaigns/{cid}/notice").get_json()["stations"]] \
        == [stations[1], stations[2]]
    auth.login("admin")
    log = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert "公众：收到异议 驿站0" in log and "处理异议 驿站0（成立，移出名单） —— 核实属实" in log
    auth.logout()
    done = client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "confirmed", "reason": "公示期满",
                                                               "force": True}, headers=bearer(world, "admin"))
    assert done.status_code == 200
    final = client.get(f"/api/v1/campaigns/{cid}/notice").get_json()
    assert final["stage"] == "confirmed" and [s["station_id"] for s in final["stations"]] == [stations[1], stations[2]]
    props = client.get(f"/api/v1/stations/{stations[1]}").get_json()["properties"]
    assert props["awards"][0]["title"].endswith("最美工会户外劳动者服务站点")
    assert props["qiyou"]["source"] == "campaign" and props["qiyou"]["total"] == 80.0
    assert set(props["qiyou"]["criteria"]["site"]) == {"score", "items_met"}
    assert client.get(f"/api/v1/stations/{stations[0]}").get_json()["properties"]["awards"] == []
    page = client.get(f"/stations/{stations[1]}").get_data(as_text=True)
    assert "七有情况" in page and "<svg" in page and "最美工会户外劳动者服务站点" in page
    auth.login("admin")
    sheet = load_workbook(io.BytesIO(client.get(f"/campaigns/{cid}/awards.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[1] for r in rows[2:4]] == [stations[1], stations[2]] and rows[-1][7] == 60000
    csv_answer = client.get(f"/campaigns/{cid}/awards.csv")
    assert "60000" in csv_answer.data.decode("utf-8-sig")
    assert csv_answer.headers["Content-Type"] == "text/csv; charset=utf-8"  # not "; charset=utf-8" twice


_INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.I)


def test_pages_for_each_user_render_without_inline_script_or_style(client, auth, world):
    cid = _create(client, world)
    pairs = _review_stage(client, world, cid, world["stations"][:4])
    pages = {"admin": [f"/campaigns", f"/campaigns/{cid}/manage", f"/campaigns/{cid}/ranking",
                       f"/campaigns/inspect/{world['stations'][0]}", "/campaigns/new"],
             "reviewer": []}
    auth.login("admin")
    for path in pages["admin"]:
        answer = client.get(path)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        if "/inspect/" in path:
            assert "<dd>每天 08:00-20:00</dd>" in html and "Mo-Su" not in html
        assert not _INLINE.search(html), (path, _INLINE.search(html).group())
    auth.logout()
    login = client.post("/login", data={"username": pairs[0]["reviewer"], "password": "review-pass-1",
                                        "csrf_token": csrf_token(client)})
    assert login.status_code == 302
    queue = client.get(f"/campaigns/{cid}/queue").get_data(as_text=True)
    assert "驿站" in queue
    form = client.get(f"/campaigns/{cid}/review/{pairs[0]['station_id']}")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "使用证据" in html and "有服务台账" in html and not _INLINE.search(html)
    assert "<dd>饮水、微波炉</dd>" in html  # the station's facilities in words, not water、microwave
    assert "<dd>每天 08:00-20:00</dd>" in html and "Mo-Su" not in html  # hours in words, not OSM syntax
    assert client.get(f"/campaigns/{cid}/manage").status_code == 403
    other = next(a["station_id"] for a in pairs if a["station_id"] not in
                 {p["station_id"] for p in pairs if p["reviewer"] == pairs[0]["reviewer"]})
    assert client.get(f"/campaigns/{cid}/review/{other}").status_code == 403


# --- photos through the API --------------------------------------------------------------------

def _gps_jpeg() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (39.0, 54.0, 31.0), 1: "N"}  # GPSInfo: where the phone stood
    exif[0x010F] = "RiderPhone"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _photos(*files):
    return [(io.BytesIO(data), name) for name, data in files]


def test_nominate_with_photos_through_the_api_reencoded_without_exif(client, world):
    from PIL import Image

    cid = _create(client, world)
    own = world["stations"][0]
    answer = client.post(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, "dc"),
                         data={"station_id": str(own), "reason": "带照片的推荐理由",
                               "photos": _photos(("a.jpg", _gps_jpeg()), ("b.jpg", _gps_jpeg()))},
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["photos"] == 2 and answer.get_json()["station_id"] == own
    db = world["db"]
    stored = [r[0] for r in db.execute("SELECT p.id FROM nomination_photos p JOIN nominations n "
                                       "ON n.id = p.nomination_id WHERE n.campaign_id = ?", [cid])]
    assert len(stored) == 2
    from stations.campaign import photo_file
    from stations.web.campaigns import photo_dir

    with client.application.test_request_context():
        folder = photo_dir()
    for photo_id in stored:
        path, kind = photo_file(db, cid, photo_id, folder)
        with Image.open(path) as image:
            assert kind == "image/jpeg" and image.size == (64, 48) and not image.getexif()
        assert b"RiderPhone" not in path.read_bytes()

    # more photos later, on the nomination; the limit counts the ones it has
    more = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "dc"),
                       data={"photos": _photos(*[(f"{i}.jpg", _gps_jpeg()) for i in range(4)])},
                       content_type="multipart/form-data")
    assert more.status_code == 201, more.get_json()
    assert more.get_json()["added"] == 4 and more.get_json()["photos"] == 6
    full = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "admin"),
                       data={"photos": _photos(("x.jpg", _gps_jpeg()))}, content_type="multipart/form-data")
    assert full.status_code == 400 and full.get_json()["error"]["parameter"] == "photos"
    assert "最多 6 张" in full.get_json()["error"]["message"]


@pytest.mark.parametrize("name, data, words", [
    ("x.gif", b"GIF89a" + b"\0" * 40, "JPEG"), ("fake.jpg", b"not an image", "JPEG"),
    ("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1), "5 MB"), ("empty.jpg", b"", "空文件")])
def test_a_bad_api_photo_refuses_the_whole_nomination(client, world, name, data, words):
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import stream_encode_multipart

    cid = _create(client, world)
    own = world["stations"][0]
    # encoded in memory: the test client would spool a body this large to a file it never closes
    fields = MultiDict([("station_id", str(own)), ("reason", "照片有问题的推荐")])
    for filename, content in (("good.jpg", _gps_jpeg()), (name, data)):
        fields.add("photos", FileStorage(io.BytesIO(content), filename=filename, content_type="image/jpeg"))
    body, _, boundary = stream_encode_multipart(fields, use_tempfile=False)
    answer = client.post(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, "dc"), data=body.read(),
                         content_type=f"multipart/form-data; boundary={boundary}")
    error = answer.get_json()["error"]
    assert answer.status_code == 400 and error["parameter"] == "photos" and words in error["message"], error
    assert world["db"].execute("SELECT count(*) FROM nominations WHERE campaign_id = ?", [cid]).fetchone()[0] == 0
    assert world["db"].execute("SELECT count(*) FROM nomination_photos").fetchone()[0] == 0


def test_photo_upload_rules_on_the_nomination(client, auth, world):
    cid = _create(client, world)
    own, other = world["stations"][0], world["stations"][1]
    for sid in (own, other):
        assert client.post(f"/api/v1/campaigns/{cid}/nominations", json={"station_id": sid, "reason": "组织者推荐"},
                           headers=bearer(world, "admin")).status_code == 201
    photo = {"photos": _photos(("a.jpg", _gps_jpeg()))}
    # a union adds photos only to its own union's station; the refusal is recorded
    refused = client.post(f"/api/v1/campaigns/{cid}/nominations/{other}/photos", headers=bearer(world, "dc"),
                          data=photo, content_type="multipart/form-data")
    assert refused.status_code == 403 and "本工会" in refused.get_json()["error"]["message"]
    logged = world["db"].execute("SELECT count(*) FROM campaign_events WHERE campaign_id = ? AND kind = 'refused'",
                                 [cid]).fetchone()[0]
    assert logged == 1
    assert client.post(f"/api/v1/campaigns/{cid}/nominations/{world['stations'][3]}/photos",
                       headers=bearer(world, "admin"), data={"photos": _photos(("a.jpg", _gps_jpeg()))},
                       content_type="multipart/form-data").status_code == 404  # not nominated
    none = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "dc"),
                       data={}, content_type="multipart/form-data")
    assert none.status_code == 400 and none.get_json()["error"]["parameter"] == "photos"
    as_json = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "dc"),
                          json={"photos": []})
    assert as_json.status_code == 400 and "multipart" in as_json.get_json()["error"]["message"]
    reviewer = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "rv0"),
                           data={"photos": _photos(("a.jpg", _gps_jpeg()))}, content_type="multipart/form-data")
    assert reviewer.status_code == 403
    # a cookie session needs the CSRF header for multipart too
    auth.login("admin")
    assert client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", data={
        "photos": _photos(("a.jpg", _gps_jpeg()))}, content_type="multipart/form-data").status_code == 400
    token = csrf_token(client, "/campaigns/new")
    ok = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers={"X-CSRFToken": token},
                     data={"photos": _photos(("a.jpg", _gps_jpeg()))}, content_type="multipart/form-data")
    assert ok.status_code == 201, ok.get_json()
    auth.logout()
    # after nominations close, photos are refused with 409
    assert client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "review", "reason": "截止"},
                       headers=bearer(world, "admin")).status_code == 200
    late = client.post(f"/api/v1/campaigns/{cid}/nominations/{own}/photos", headers=bearer(world, "dc"),
                       data={"photos": _photos(("a.jpg", _gps_jpeg()))}, content_type="multipart/form-data")
    assert late.status_code == 409 and late.get_json()["error"]["parameter"] == "stage"


def test_openapi_documents_photo_uploads():
    from stations.openapi import openapi_document

    paths = openapi_document()["paths"]
    body = paths["/api/v1/campaigns/{campaign_id}/nominations"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    more = paths["/api/v1/campaigns/{campaign_id}/nominations/{station_id}/photos"]["post"]
    assert "multipart/form-data" in more["requestBody"]["content"]
    assert {"201", "400", "403", "404", "409", "413"} <= set(more["responses"])


def test_rubric_form_error_names_the_criterion_and_keeps_the_edits(client, world, auth):
    cid = _create(client, world)
    auth.login("admin")
    token = csrf_token(client, f"/campaigns/{cid}/rubric")
    form = {"csrf_token": token, "name": "七有", "c0_name": "有场所", "c0_weight": "1", "c0_items": "*固定场所",
            "c1_name": "有标识", "c1_weight": "-3", "c1_items": "统一标识", "new_name": "有温度",
            "new_weight": "1.5", "new_items": "*热饭服务"}
    for i in range(2, 7):
        form.update({f"c{i}_name": f"标准{i}", f"c{i}_weight": "1", f"c{i}_items": ""})
    answer = client.post(f"/campaigns/{cid}/rubric", data=form)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "标准“有标识”的权重" in page and "rubric.criteria" not in page
    assert 'value="有场所"' in page and 'value="-3"' in page and 'value="有温度"' in page and "*热饭服务" in page


def test_the_new_campaign_form_says_how_many_reviewers_there_are(client, auth, fresh_db):
    pool = fresh_db.execute("SELECT count(*) FROM users WHERE role = 'reviewer'").fetchone()[0]
    assert 1 <= pool < 5
    auth.login("admin")
    page = client.get("/campaigns/new").get_data(as_text=True)
    assert f"现有 {pool} 位评审专家" in page
    assert re.search(rf'name="reviewers_per_station" value="{pool}"', page)  # not 5 when only {pool} exist
