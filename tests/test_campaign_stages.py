"""The 最美站点 selection's rules, on the core (no web): each test fails if its rule breaks."""

from __future__ import annotations

import io

import pytest

from stations import campaign as cp
from stations import storage
from stations.accounts import users
from stations.campaign.ranking import FACE_GAP
from tests.conftest import make_station

UNIONS = ["东城区总工会", "西城区总工会", "海淀区总工会"]


def _user(db, name, role, union=None):
    users.add_user(db, name, "password-123", role, union)
    return users.get_user(db, name)


@pytest.fixture
def world(fresh_db):
    db = fresh_db
    admin = _user(db, "org", "admin")
    revs = [_user(db, f"r{i}", "reviewer", UNIONS[i % 3]) for i in range(6)]
    union_user = _user(db, "dc", "union", UNIONS[0])
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 3], lon=116.39 + i * 0.001)
                for i in range(9)]
    return db, admin, revs, union_user, stations


def _campaign(db, admin, **over):
    data = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 3,
            "subsidy_yuan": 20000, "reviewers_per_station": 2, **over}
    return cp.create_campaign(db, data, admin)


def _to_review(db, admin, stations, cid):
    for sid in stations:
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")


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


# --- assignment -------------------------------------------------------------------------

def test_automatic_assignment_exact_count_no_conflict_balanced(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    _to_review(db, admin, stations, cid)
    pairs = cp.assign_reviewers(db, cid, admin)
    per_station, loads = {}, {}
    union_of = {r["username"]: r["union_name"] for r in revs}
    host = {s["id"]: s["host_union"] for s in storage.iter_stations(db)}
    for a in pairs:
        per_station.setdefault(a["station_id"], []).append(a["reviewer"])
        loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
        assert union_of[a["reviewer"]] != host[a["station_id"]]
    assert all(len(set(v)) == 2 for v in per_station.values()) and len(per_station) == 9
    assert max(loads.values()) - min(loads.values()) <= 1 and len(loads) == 6


def test_infeasible_assignment_names_the_stations_and_writes_nothing(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin, reviewers_per_station=5)
    _to_review(db, admin, stations[:3], cid)
    with pytest.raises(cp.CampaignError) as refused:
        cp.assign_reviewers(db, cid, admin)
    # each station's union has 2 of the 6 reviewers: only 4 may review it, 5 are needed
    assert refused.value.status == 409
    assert sorted(s["id"] for s in refused.value.detail["stations"]) == sorted(stations[:3])
    assert "驿站0" in refused.value.message
    assert db.execute("SELECT count(*) FROM assignments").fetchone()[0] == 0


def test_balanced_loads_impossible_is_refused_not_bent():
    stations = [{"id": i, "host_union": "A"} for i in range(1, 7)] + [{"id": 7, "host_union": "B"}]
    reviewers = [{"id": 10, "union_name": "A"}, {"id": 11, "union_name": "A"}, {"id": 12, "union_name": "B"}]
    # six A stations can only go to reviewer 12: loads 6/0/1 cannot be evened
    with pytest.raises(cp.Infeasible) as refused:
        cp.plan_assignment(stations, reviewers, 1)
    assert set(refused.value.stations) >= {1, 2, 3, 4, 5, 6}
    ok = cp.plan_assignment(stations[:1] + [{"id": 8, "host_union": "B"}, {"id": 9, "host_union": None}],
                            reviewers, 1)
    assert cp.check_assignment(ok.pairs, [{"id": 1, "host_union": "A"}, {"id": 8, "host_union": "B"},
                                          {"id": 9, "host_union": None}], reviewers, 1) == []


def test_infeasible_balance_names_the_reviewer_whose_conflicts_hold_it_back():
    # 4 stations of union A and one of B; 3 outside reviewers and one from A, who may
    # review only the B station: 10 places for 4 reviewers means at least 2 each
    stations = [{"id": i, "host_union": "朝阳区总工会"} for i in range(1, 5)] + [{"id": 5, "host_union": "海淀区总工会"}]
    reviewers = [{"id": 10, "username": "li", "union_name": None}, {"id": 11, "username": "wang", "union_name": ""},
                 {"id": 12, "username": "zhao", "union_name": None},
                 {"id": 13, "username": "chen", "union_name": "朝阳区总工会"}]
    with pytest.raises(cp.Infeasible) as refused:
        cp.plan_assignment(stations, reviewers, 2)
    assert "chen（朝阳区总工会，只能评 1 个）" in refused.value.message
    assert "减少每站评审人数" in refused.value.message and "li（" not in refused.value.message


def test_a_reviewer_of_every_nominees_union_takes_no_part_instead_of_blocking_the_campaign():
    """A district campaign: every nominee is 朝阳's and one reviewer is from 朝阳.  That
    reviewer can review none of them, so no number of reviewers per station could give
    them a fair share: they are left out, and the others' loads are balanced."""
    stations = [{"id": i, "host_union": "朝阳区总工会"} for i in range(1, 5)]
    reviewers = [{"id": 10, "username": "li", "union_name": None}, {"id": 11, "username": "wang", "union_name": ""},
                 {"id": 12, "username": "zhao", "union_name": None},
                 {"id": 13, "username": "chen", "union_name": " 朝阳区总工会 "}]
    plan = cp.plan_assignment(stations, reviewers, 2)
    assert plan.left_out == [13] and 13 not in plan.loads
    assert sorted(plan.loads.values()) == [2, 3, 3] and len(plan.pairs) == 8
    assert all(rid != 13 for _, rid in plan.pairs)
    assert cp.check_assignment(plan.pairs, stations, reviewers, 2) == []


def test_manual_change_obeys_the_rule_and_a_forged_one_is_refused_and_logged(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    _to_review(db, admin, stations[:3], cid)   # 3 stations × 2 = 6 places for 6 reviewers: 1 each
    cp.assign_reviewers(db, cid, admin)
    pairs = cp.list_assignments(db, cid)
    target = pairs[0]
    host = storage.get_station(db, target["station_id"])["host_union"]
    conflicted = next(r for r in revs if r["union_name"] == host)
    with pytest.raises(cp.CampaignError) as forged:
        cp.reassign(db, cid, {"station_id": target["station_id"], "from_reviewer": target["reviewer"],
                              "to_reviewer": conflicted["username"]}, admin)
    assert forged.value.status == 403
    assert any(e["kind"] == "refused" and "利益冲突" in e["reason"] for e in cp.campaign_log(db, cid))
    # a plain replacement would give one reviewer 2 and another 0: refused
    other = next(p for p in pairs if p["station_id"] != target["station_id"]
                 and storage.get_station(db, target["station_id"])["host_union"] != users.get_user(db, p["reviewer"])["union_name"]
                 and storage.get_station(db, p["station_id"])["host_union"] != users.get_user(db, target["reviewer"])["union_name"]
                 and p["reviewer"] not in [q["reviewer"] for q in pairs if q["station_id"] == target["station_id"]]
                 and target["reviewer"] not in [q["reviewer"] for q in pairs if q["station_id"] == p["station_id"]])
    with pytest.raises(cp.CampaignError) as unbalanced:
        cp.reassign(db, cid, {"station_id": target["station_id"], "from_reviewer": target["reviewer"],
                              "to_reviewer": other["reviewer"]}, admin)
    assert unbalanced.value.field == "swap_station"
    cp.reassign(db, cid, {"station_id": target["station_id"], "from_reviewer": target["reviewer"],
                          "to_reviewer": other["reviewer"], "swap_station": other["station_id"]}, admin)
    after = {(a["station_id"], a["reviewer"]) for a in cp.list_assignments(db, cid)}
    assert (target["station_id"], other["reviewer"]) in after and (other["station_id"], target["reviewer"]) in after
    assert db.execute("SELECT count(*) FROM assignments").fetchone()[0] == 6


# --- reviews ----------------------------------------------------------------------------

def test_reviews_are_blind_locked_after_submit_and_only_for_the_assigned(world):
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    _to_review(db, admin, stations[:3], cid)
    cp.assign_reviewers(db, cid, admin)
    sid = stations[0]
    on = [users.get_user(db, a["reviewer"]) for a in cp.list_assignments(db, cid) if a["station_id"] == sid]
    off = next(r for r in revs if r["id"] not in {u["id"] for u in on})
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    review, created = cp.save_review(db, cid, sid, {"scores": {k: 9 for k in keys}, "note": "很好", "submit": True},
                                     on[0])
    assert created and review["submitted"]
    # the other reviewer sees only their own (nothing yet), never the 9s
    assert cp.get_review(db, cid, sid, on[1]["id"]) is None
    assert all(a["reviewer"] in (on[1]["username"],) for a in cp.list_assignments(db, cid, reviewer_id=on[1]["id"]))
    with pytest.raises(cp.CampaignError) as locked:
        cp.save_review(db, cid, sid, {"scores": {k: 1 for k in keys}, "submit": True}, on[0])
    assert locked.value.status == 409
    assert cp.get_review(db, cid, sid, on[0]["id"])["scores"][keys[0]] == 9
    with pytest.raises(cp.CampaignError) as stranger:
        cp.save_review(db, cid, sid, {"scores": {k: 1 for k in keys}}, off)
    assert stranger.value.status == 403
    with pytest.raises(cp.CampaignError) as bad:
        cp.save_review(db, cid, sid, {"scores": {keys[0]: 11}}, on[1])
    assert bad.value.field == f"scores.{keys[0]}"
    with pytest.raises(cp.CampaignError) as incomplete:
        cp.save_review(db, cid, sid, {"scores": {keys[0]: 5}, "submit": True}, on[1])
    assert incomplete.value.field == f"scores.{keys[1]}"


# --- ranking on hand-computed examples ---------------------------------------------------

def test_trimmed_mean_from_five_reviews():
    assert cp.aggregate([60, 70, 80, 90]) == 75          # mean below five
    assert cp.aggregate([10, 70, 72, 74, 100]) == 72     # (70 + 72 + 74) / 3


def test_zscore_normalisation_evens_a_harsh_reviewer():
    # harsh gives 40 and 60, lenient 80 and 100 to the same two stations
    reviews = [{"id": 1, "reviewer_id": "harsh", "total": 40}, {"id": 2, "reviewer_id": "harsh", "total": 60},
               {"id": 3, "reviewer_id": "lenient", "total": 80}, {"id": 4, "reviewer_id": "lenient", "total": 100}]
    adjusted = cp.normalise_by_reviewer(reviews)
    # grand mean 70, grand sd sqrt(500) = 22.36; each reviewer's z is -1, +1
    assert adjusted[1] == pytest.approx(70 - 500 ** 0.5) and adjusted[3] == pytest.approx(70 - 500 ** 0.5)
    assert adjusted[2] == pytest.approx(70 + 500 ** 0.5) and adjusted[4] == adjusted[2]


def test_kendall_w_on_a_hand_computed_example():
    # three reviewers rank four stations: rank sums 4, 6, 8, 12 -> S = 35, W = 12·35/(9·60)
    scores = {"a": {1: 4, 2: 3, 3: 2, 4: 1}, "b": {1: 4, 2: 2, 3: 3, 4: 1}, "c": {1: 3, 2: 4, 3: 2, 4: 1}}
    assert cp.kendall_w(scores) == pytest.approx(420 / 540)
    assert cp.kendall_w({"a": {1: 2, 2: 1}, "b": {1: 2, 2: 1}}) == pytest.approx(1.0)
    assert cp.kendall_w({"a": {1: 2, 2: 1}, "b": {1: 1, 2: 2}}) == pytest.approx(0.0)


def _rubric_keys():
    return [c["key"] for c in cp.default_rubric()["criteria"]]


def test_ties_broken_by_priority_items_then_rating_then_id():
    rubric = cp.default_rubric()
    keys = _rubric_keys()
    nominees = [{"station_id": i, "name": f"s{i}"} for i in (5, 3, 9, 7)]
    even = {k: 8 for k in keys}
    reviews = [{"id": i, "station_id": s, "reviewer_id": "r", "scores": even, "items": items}
               for i, (s, items) in enumerate([(5, []), (3, []), (9, ["ledger"]), (7, [])])]
    evidence = {5: {"rating": 4.5}, 3: {"rating": 4.0}, 7: {"rating": 4.0}}
    ranked = cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)["ranking"]
    assert [r["station_id"] for r in ranked] == [9, 5, 3, 7]  # priority item, rating, then lower id
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]


def test_a_kept_ledger_confirms_the_ledger_priority_item_in_ties():
    """Issue 8: a station whose service ledger is kept counts 有服务台账 as evidenced, so
    it wins a tie against one whose reviewers ticked no priority item; a ledger not kept
    does not."""
    rubric = cp.default_rubric()
    even = {k: 8 for k in _rubric_keys()}
    nominees = [{"station_id": i, "name": f"s{i}"} for i in (4, 8, 6)]
    reviews = [{"id": i, "station_id": s, "reviewer_id": "r", "scores": even, "items": []}
               for i, s in enumerate((4, 8, 6))]
    evidence = {4: {"rating": 4.0, "ledger": {"kept": False, "entries": 10}},
                8: {"rating": 4.0, "ledger": {"kept": True, "entries": 80}},
                6: {"rating": 4.0}}
    ranked = cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)["ranking"]
    assert [r["station_id"] for r in ranked] == [8, 4, 6]
    assert ranked[0]["items_confirmed"] == ["ledger"] and ranked[0]["priority_confirmed"] == 1
    assert ranked[1]["priority_confirmed"] == 0
    assert "服务台账" in cp.RULES["ties"]  # the rule as the ranking page states it


def test_face_project_flag_on_a_built_case():
    rubric = cp.default_rubric()
    keys = _rubric_keys()
    looks_only = {k: (9 if k in ("site", "signage", "publicity") else 5) for k in keys}
    looks_only["service"] = looks_only["effect"] = 9 - FACE_GAP  # a gap of exactly FACE_GAP
    balanced = {k: 8 for k in keys}
    high = {k: 9 for k in keys}
    nominees = [{"station_id": i, "name": f"s{i}"} for i in (1, 2, 3)]
    reviews = [{"id": 1, "station_id": 1, "reviewer_id": "r", "scores": looks_only, "items": []},
               {"id": 2, "station_id": 2, "reviewer_id": "r", "scores": balanced, "items": []},
               {"id": 3, "station_id": 3, "reviewer_id": "r", "scores": high, "items": []}]
    evidence = {2: {"hours_per_week": 20, "is_24h": False},           # total 80 is "high": poor evidence flags
                3: {"hours_per_week": 70, "rating": 2.1, "rating_count": 8}}
    rows = {r["station_id"]: r for r in cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)["ranking"]}
    assert "face_project" in rows[1]["flags"] and "外观比实质高" in rows[1]["face_reasons"][0]
    assert "face_project" in rows[2]["flags"]           # total 80 with 20 hours a week
    assert "face_project" in rows[3]["flags"] and "骑手评分 2.1" in rows[3]["face_reasons"][0]
    evidence[3] = {"hours_per_week": 70, "rating": 4.6, "rating_count": 8}
    evidence[2] = {"hours_per_week": 168, "is_24h": True}
    rows = {r["station_id"]: r for r in cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)["ranking"]}
    assert rows[2]["flags"] == [] and rows[3]["flags"] == []


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
    assert winner["awards"][-1]["title"] == "2021年市级最美工会户外劳动者服务站点"
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


def test_the_face_rule_names_the_campaigns_own_criteria():
    assert "外观（有场地、有标识、有宣传）平均分比实质（有服务、有成效）" in cp.ranking_rules()["face"]
    rubric = cp.default_rubric()
    rubric["criteria"][0]["name"] = "有场所"
    rubric["criteria"] = [c for c in rubric["criteria"] if c["key"] != "publicity"]
    assert "外观（有场所、有标识）平均分比实质（有服务、有成效）" in cp.ranking_rules(None, rubric)["face"]
    rubric["criteria"] = [c for c in rubric["criteria"] if c["key"] not in ("service", "effect")]
    assert "不比较两者的分差" in cp.ranking_rules(None, rubric)["face"]


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


def test_district_campaign_assigns_and_adjusts_without_the_nominees_own_union(world):
    """Only one union's stations are nominated: its two reviewers take no part (the log says
    so); the others' loads are balanced, and a manual change is judged among them alone."""
    db, admin, revs, _, stations = world
    cid = _campaign(db, admin)
    own = [sid for sid in stations if storage.get_station(db, sid)["host_union"] == UNIONS[0]]
    _to_review(db, admin, own, cid)
    pairs = cp.assign_reviewers(db, cid, admin)
    loads = {}
    for a in pairs:
        loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
    left_out = {r["username"] for r in revs if r["union_name"] == UNIONS[0]}
    assert not left_out & set(loads) and len(loads) == 4 and sorted(loads.values()) == [1, 1, 2, 2]
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "assign")
    assert sorted(event["detail"]["left_out"]) == sorted(left_out)
    # move one station from a reviewer with 2 to one with 1 who is not on it: still within one
    busy = next(name for name, n in loads.items() if n == 2)
    station = next(a["station_id"] for a in pairs if a["reviewer"] == busy)
    on = {a["reviewer"] for a in pairs if a["station_id"] == station}
    idle = next(name for name, n in loads.items() if n == 1 and name not in on)
    cp.reassign(db, cid, {"station_id": station, "from_reviewer": busy, "to_reviewer": idle}, admin)
    assert (station, idle) in {(a["station_id"], a["reviewer"]) for a in cp.list_assignments(db, cid)}
