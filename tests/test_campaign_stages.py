"""The 最美站点 selection's rules, on the core (no web): the campaign's course — rubric,
stages, nomination, notice, objections, confirmation and the record.  Each test fails if
its rule breaks."""

from __future__ import annotations

import io

import pytest

from stations import campaign as cp
from stations import storage
from stations.accounts import users
from tests import campaign_support
from tests.campaign_support import UNIONS, _campaign, _rubric_keys, _to_review
from tests.conftest import make_station

# The shared campaign fixture (tests/campaign_support.py).
world = campaign_support.world


def _score_all(db, cid, revs, by_station, items=()):
    """Every assigned reviewer submits the given scores (dict station -> criterion score)."""
    keys = [c["key"] for c in cp.get_campaign(db, cid)["rubric"]["criteria"]]
    for a in cp.list_assignments(db, cid):
        reviewer = users.get_user(db, a["reviewer"])
        value = by_station[a["station_id"]]
        scores = value if isinstance(value, dict) else {k: value for k in keys}
        cp.save_review(db, cid, a["station_id"], {"scores": scores, "items": list(items), "submit": True},
                       reviewer)


# --- rubric, campaign, stages -----------------------------------------------------------

def test_default_rubric_is_qiyou_with_the_notices_names():
    rubric = cp.default_rubric()
    assert [c["name"] for c in rubric["criteria"]] == ["有场地", "有标识", "有设施", "有宣传", "有服务",
                                                      "有制度", "有成效"]
    priority = [i["name"] for c in rubric["criteria"] for i in c["items"] if i["priority"]]
    assert priority == ["通过自动售货机等手段具备24小时服务能力", "有服务台账", "有服务对象反馈记录",
                        "有顺畅的职工意见建议收集反馈渠道"]
    assert cp.weighted_total({c["key"]: 10 for c in rubric["criteria"]}, rubric) == 100


def test_rubric_edits_before_review_only_and_bad_weights_name_the_field(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    rubric = cp.default_rubric()
    rubric["criteria"] = rubric["criteria"][:6]  # 六有
    rubric["criteria"][0]["weight"] = 2
    assert len(cp.set_rubric(db, cid, rubric, admin)["criteria"]) == 6
    rubric["criteria"][1]["weight"] = 0
    with pytest.raises(cp.CampaignError) as bad:
        cp.set_rubric(db, cid, rubric, admin)
    assert bad.value.field == "rubric.criteria[1].weight"
    _to_review(db, admin, stations[:1], cid)
    rubric["criteria"][1]["weight"] = 1
    with pytest.raises(cp.CampaignError) as late:
        cp.set_rubric(db, cid, rubric, admin)
    assert late.value.status == 409


def test_a_rubric_with_two_criteria_of_the_same_name_is_refused():
    rubric = cp.default_rubric()
    rubric["criteria"].append({"key": "warmth", "name": "有温度", "weight": 1, "items": []})
    rubric["criteria"].append({"key": "warmth2", "name": " 有温度", "weight": 1, "items": []})
    with pytest.raises(cp.CampaignError) as twice:
        cp.validate_rubric(rubric)
    assert twice.value.field == "rubric.criteria[8].name" and "“有温度”重复" in twice.value.message


def test_stages_move_forward_one_at_a_time_and_are_logged(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    with pytest.raises(cp.CampaignError) as skip:
        cp.advance_stage(db, cid, "notice", admin)
    assert skip.value.status == 409 and "跳过" in skip.value.message
    _to_review(db, admin, stations[:3], cid)
    with pytest.raises(cp.CampaignError) as back:
        cp.advance_stage(db, cid, "nomination", admin)
    assert back.value.status == 409
    log = cp.campaign_log(db, cid)
    moves = [(e["from_stage"], e["to_stage"], e["username"], e["reason"]) for e in log if e["kind"] == "stage"]
    assert moves == [("nomination", "review", "org", "推荐截止")]


def test_notice_with_missing_reviews_needs_force_and_a_reason(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    _to_review(db, admin, stations[:3], cid)
    cp.assign_reviewers(db, cid, admin)
    first = cp.list_assignments(db, cid)[0]
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    cp.save_review(db, cid, first["station_id"], {"scores": {k: 8 for k in keys}, "submit": True},
                   users.get_user(db, first["reviewer"]))
    draft = cp.list_assignments(db, cid)[1]
    cp.save_review(db, cid, draft["station_id"], {"scores": {k: 1 for k in keys}, "submit": False},
                   users.get_user(db, draft["reviewer"]))
    with pytest.raises(cp.CampaignError) as refused:
        cp.advance_stage(db, cid, "notice", admin)
    assert refused.value.status == 409 and refused.value.detail["missing"] == 5
    with pytest.raises(cp.CampaignError) as no_reason:
        cp.advance_stage(db, cid, "notice", admin, force=True)
    assert no_reason.value.field == "reason"
    cp.advance_stage(db, cid, "notice", admin, force=True, reason="时间到了")
    listed = cp.notice_list(db, cid)["stations"]
    # only the submitted review counts: the draft's 1s are not anywhere
    assert [(r["station_id"], r["total"]) for r in listed] == [(first["station_id"], 80.0)]
    event = [e for e in cp.campaign_log(db, cid) if e["to_stage"] == "notice"][0]
    assert event["detail"]["forced"] is True and event["reason"] == "时间到了"


# --- nomination -------------------------------------------------------------------------

def test_union_nominates_only_its_own_active_unflagged_stations_once(world):
    db, admin, revs, union_user, stations = world
    cid = _campaign(db, admin)
    own, other = stations[0], stations[1]
    made = cp.nominate(db, cid, {"station_id": own, "reason": "本工会的好站点"}, union_user)
    assert made["union_name"] == UNIONS[0]
    with pytest.raises(cp.CampaignError) as dup:
        cp.nominate(db, cid, {"station_id": own, "reason": "再推荐一次"}, admin)
    assert dup.value.status == 409 and "已被推荐" in dup.value.message
    with pytest.raises(cp.CampaignError) as foreign:
        cp.nominate(db, cid, {"station_id": other, "reason": "别人家的站点"}, union_user)
    assert foreign.value.status == 403 and "本工会" in foreign.value.message
    assert any(e["kind"] == "refused" for e in cp.campaign_log(db, cid))
    closed = make_station(db, name="关了", host_union=UNIONS[0], status="closed")
    pending = make_station(db, name="待审", host_union=UNIONS[0], status="pending")
    flagged = make_station(db, name="有报告", host_union=UNIONS[0])
    db["feedback"].insert({"station_id": flagged, "at": storage.now_iso(), "found": "[]", "flag": "not_found"})
    for sid, words in ((closed, "已关闭"), (pending, "待审核"), (flagged, "未核实")):
        with pytest.raises(cp.CampaignError) as refused:
            cp.nominate(db, cid, {"station_id": sid, "reason": "试试看能否推荐"}, union_user)
        assert words in refused.value.message and refused.value.field == "station_id"


def _jpeg_with_gps() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (39.0, 54.0, 31.0), 1: "N"}  # GPSInfo: latitude
    exif[0x010F] = "RiderPhone"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photos_are_reencoded_without_exif_and_others_are_refused(world, tmp_path):
    from PIL import Image

    db, admin, revs, union_user, stations = world
    cid = _campaign(db, admin)
    raw = _jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif()  # the upload does carry GPS tags
    made = cp.nominate(db, cid, {"station_id": stations[0], "reason": "带照片的推荐"}, union_user,
                       photos=[("a.jpg", raw)], photo_dir=tmp_path)
    photo = cp.nomination_photos(db, cid)[stations[0]][0]
    path, kind = cp.photo_file(db, cid, photo["id"], tmp_path)
    with Image.open(path) as stored:
        assert kind == "image/jpeg" and stored.size == (64, 48) and not stored.getexif()
    assert b"RiderPhone" not in path.read_bytes() and made["photos"] == 1
    for name, data, words in (("x.gif", b"GIF89a" + b"\0" * 40, "JPEG"), ("big.jpg", b"\xff" * (5 * 1024 * 1024 + 1), "5 MB"),
                              ("fake.jpg", b"not an image", "JPEG")):
        with pytest.raises(cp.CampaignError) as refused:
            cp.nominate(db, cid, {"station_id": stations[3], "reason": "照片有问题"}, union_user,
                        photos=[(name, data)], photo_dir=tmp_path)
        assert refused.value.field == "photos" and words in refused.value.message
    with pytest.raises(cp.CampaignError) as many:
        cp.nominate(db, cid, {"station_id": stations[3], "reason": "照片太多了"}, union_user,
                    photos=[("a.jpg", raw)] * 7, photo_dir=tmp_path)
    assert "最多 6 张" in many.value.message
    # nothing was written for the refused ones
    assert [n["station_id"] for n in cp.list_assignments(db, cid)] == []
    assert db.execute("SELECT count(*) FROM nominations").fetchone()[0] == 1


# --- notice, objections, confirmation, the record ----------------------------------------

def _through_review(db, admin, revs, stations, quota=3):
    cid = _campaign(db, admin, quota=quota)
    _to_review(db, admin, stations, cid)
    cp.assign_reviewers(db, cid, admin)
    _score_all(db, cid, revs, {sid: 9 - i * 0.5 for i, sid in enumerate(stations)}, items=["ledger"])
    cp.advance_stage(db, cid, "notice", admin, reason="评审完成")
    return cid


def test_quota_filled_exactly_and_upheld_objection_moves_the_next_up(world):
    db, admin, revs, _, stations = world
    cid = _through_review(db, admin, revs, stations[:6])
    listed = [r["station_id"] for r in cp.notice_list(db, cid)["stations"]]
    assert listed == stations[:3]
    limits = {"per_client": 5, "global": 100}
    made = cp.lodge_objection(db, cid, {"station_id": stations[1], "reason": "这个站点经常关门"},
                              client="c1", limits=limits)
    with pytest.raises(cp.CampaignError) as blocked:
        cp.advance_stage(db, cid, "confirmed", admin, force=True, reason="赶时间")
    assert "异议未处理" in blocked.value.message
    cp.resolve_objection(db, cid, made["id"], {"upheld": True, "reason": "核实属实"}, admin)
    after = cp.notice_list(db, cid)["stations"]
    assert [r["station_id"] for r in after] == [stations[0], stations[2], stations[3]]
    assert [r["rank"] for r in after] == [1, 2, 3]
    row = db.execute("SELECT * FROM objections").fetchone()
    assert "c1" not in [str(v) for v in row]  # nothing about the sender is stored


def test_confirmation_awards_and_latest_qiyou_on_the_record(world):
    db, admin, revs, _, stations = world
    cid = _through_review(db, admin, revs, stations[:4], quota=2)
    with pytest.raises(cp.CampaignError) as early:
        cp.advance_stage(db, cid, "confirmed", admin)
    assert "公示期" in early.value.message
    cp.advance_stage(db, cid, "confirmed", admin, force=True, reason="公示无异议，提前确认")
    winner = storage.get_station(db, stations[0])
    # no one awards a "市级" title: a campaign of no union in a tree with no city union names no place
    assert winner["awards"][-1]["title"] == "2021年最美工会户外劳动者服务站点"
    assert storage.get_station(db, stations[3])["awards"] == []
    record = cp.latest_checklist(db, stations[3])
    assert record["source"] == "campaign" and record["total"] == 75.0
    assert record["criteria"]["service"] == {"score": 7.5, "items_met": ["ledger"]}
    actions = [h["action"] for h in storage.station_history(db, stations[0])]
    assert "qiyou:campaign" in actions and f"award:{cid}" in actions
    campaign, rows = cp.award_rows(db, cid)
    assert [r["station_id"] for r in rows] == stations[:2]


def test_inspection_replaces_the_latest_checklist(world):
    db, admin, revs, _, stations = world
    keys = _rubric_keys()
    cp.inspect_station(db, stations[0], {"scores": {k: 6 for k in keys}, "items": ["water"], "kind": "acceptance"},
                       revs[0])
    first = cp.latest_checklist(db, stations[0])
    assert first["source"] == "inspection" and first["kind"] == "acceptance" and first["total"] == 60
    cp.inspect_station(db, stations[0], {"scores": {k: 7 for k in keys}}, admin)
    assert cp.latest_checklist(db, stations[0])["total"] == 70
    assert cp.stations_with_min_total(db, 65) == {stations[0]}
    assert cp.qiyou_property(cp.latest_checklist(db, stations[0]))["criteria"]["facilities"]["items_met"] == []
    with pytest.raises(cp.CampaignError):
        cp.inspect_station(db, stations[0], {"scores": {k: 7 for k in keys}}, users.get_user(db, "dc"))


def test_awards_export_opens_in_openpyxl_with_defused_cells(world):
    from openpyxl import load_workbook

    db, admin, revs, _, stations = world
    storage.update_station(db, stations[0], {"name": "=HYPERLINK(\"x\")驿站"})
    cid = _through_review(db, admin, revs, stations[:3], quota=2)
    cp.advance_stage(db, cid, "confirmed", admin, force=True, reason="提前确认")
    campaign, rows = cp.award_rows(db, cid)
    sheet = load_workbook(io.BytesIO(cp.awards_xlsx(campaign, rows))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1][:3] == ("名次", "站点编号", "站点名称")
    assert values[2][2] == "'=HYPERLINK(\"x\")驿站"
    assert values[-1][0] == "合计" and values[-1][7] == 40000
    text = cp.awards_csv(campaign, rows).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "40000" in text


def test_a_seven_day_notice_is_seven_days_and_confirmation_waits_for_its_last(world, monkeypatch):
    from datetime import date

    from stations.campaign import notice, stages

    db, admin, revs, _, stations = world
    for module in (stages, notice):
        monkeypatch.setattr(module, "today", lambda: date(2026, 11, 26))
    cid = _through_review(db, admin, revs, stations[:3])
    assert cp.notice_list(db, cid)["period"] == {"start": "2026-11-26", "end": "2026-12-02"}
    for module in (stages, notice):
        monkeypatch.setattr(module, "today", lambda: date(2026, 12, 2))
    cp.lodge_objection(db, cid, {"station_id": stations[0], "reason": "最后一天也能提异议"}, client="c9",
                       limits={"per_client": 5, "global": 100})
    oid = db.execute("SELECT id FROM objections").fetchone()[0]
    cp.resolve_objection(db, cid, oid, {"upheld": False, "reason": "核实不属实"}, admin)
    with pytest.raises(cp.CampaignError) as early:  # the last day of the notice is still the notice
        cp.advance_stage(db, cid, "confirmed", admin)
    assert "2026-12-02（含当天）" in early.value.message
    for module in (stages, notice):
        monkeypatch.setattr(module, "today", lambda: date(2026, 12, 3))
    assert cp.advance_stage(db, cid, "confirmed", admin)["stage"] == "confirmed"
