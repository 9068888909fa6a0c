"""Conflict of interest by the union tree (issue 16, point 5): a reviewer never reviews a
station whose union lies on one line with theirs below the campaign's organiser, whatever
the spelling (aliases, brackets), after a station changes union, and after the tree itself
changes (a merge, a move)."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations import storage
from stations.accounts import users
from stations.campaign.eligibility import conflict_rule, eligibility, reviewer_key, station_key
from stations.unions import store
from tests.conftest import make_station


def _user(db, name, role, union=None):
    users.add_user(db, name, "password-123", role, union)
    return users.get_user(db, name)


@pytest.fixture
def tree(fresh_db):
    """北京市总工会 → 朝阳区总工会 → 望京街道工会 → 顺丰速运工会（北京分公司）(alias 顺丰速运工会);
    北京市总工会 → 海淀区总工会 → 海淀某公司工会.  Reviewers of each level, one of none."""
    db = fresh_db
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    wangjing = store.add_union(db, "望京街道工会", parent_id=chaoyang, kind="street")
    sf = store.add_union(db, "顺丰速运工会（北京分公司）", parent_id=wangjing, aliases=["顺丰速运工会"])
    haidian = store.add_union(db, "海淀区总工会", parent_id=city, kind="district")
    store.add_union(db, "海淀某公司工会", parent_id=haidian)
    admin = _user(db, "city", "admin", "北京市总工会")
    revs = {"rc": _user(db, "rc", "reviewer", "朝阳区总工会"),
            "rs": _user(db, "rs", "reviewer", "顺丰速运工会(北京分公司)"),   # half-width brackets
            "rh": _user(db, "rh", "reviewer", "海淀区总工会"),
            "rcity": _user(db, "rcity", "reviewer", "北京市总工会"),
            "rx": _user(db, "rx", "reviewer")}                              # an outside expert
    stations = {"sf": make_station(db, name="顺丰驿站", host_union="顺丰速运工会"),         # by its alias
                "wj": make_station(db, name="望京驿站", host_union="望京 街道工会", lon=116.40),
                "hd": make_station(db, name="海淀驿站", host_union="海淀某公司工会", lon=116.30),
                "cy": make_station(db, name="朝阳区工会驿站", host_union="朝阳区总工会", lon=116.45)}
    ids = {"city": city, "chaoyang": chaoyang, "wangjing": wangjing, "sf": sf, "haidian": haidian}
    return {"db": db, "admin": admin, "revs": revs, "stations": stations, "unions": ids}


def _campaign(db, admin, stations, k=2, **over):
    data = {"name": "最美站点", "year": 2026, "level": "municipal", "quota": 2, "subsidy_yuan": 0,
            "reviewers_per_station": k, **over}
    cid = cp.create_campaign(db, data, admin)
    for sid in stations:
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")
    return cid


def _pairs(db, cid):
    return {(a["station_id"], a["reviewer"]) for a in cp.list_assignments(db, cid) if a["state"] != "held"}


def test_a_city_campaign_keeps_each_reviewer_off_every_station_on_their_union_line(tree):
    db, s = tree["db"], tree["stations"]
    cid = _campaign(db, tree["admin"], list(s.values()))
    assert cp.get_campaign(db, cid)["union_id"] == tree["unions"]["city"]
    cp.assign_reviewers(db, cid, tree["admin"])
    pairs = _pairs(db, cid)
    on = {name: {sid for sid, r in pairs if r == name} for name in tree["revs"]}
    # 朝阳's reviewer reviews none of 朝阳's stations (a street's, a grassroots', its own)
    assert on["rc"] == {s["hd"]}
    # 顺丰（北京分公司）, spelled with half-width brackets, and its station named by alias;
    # nor the street or district above it
    assert on["rs"] == {s["hd"]}
    assert s["hd"] not in on["rh"]
    # the organiser's own reviewer and an outside expert review any
    assert on["rcity"] | on["rx"] >= {s["sf"], s["wj"], s["cy"]}
    assert all(len({r for sid2, r in pairs if sid2 == sid}) == 2 for sid in s.values())


def test_a_forged_reassignment_across_the_tree_is_refused_naming_the_line(tree):
    db, s = tree["db"], tree["stations"]
    cid = _campaign(db, tree["admin"], list(s.values()))
    cp.assign_reviewers(db, cid, tree["admin"])
    giver = next(r for sid, r in _pairs(db, cid) if sid == s["sf"])
    with pytest.raises(cp.CampaignError) as refused:
        cp.reassign(db, cid, {"station_id": s["sf"], "from_reviewer": giver, "to_reviewer": "rc"}, tree["admin"])
    assert refused.value.status == 403
    assert "rc（朝阳区总工会）与“朝阳区总工会”的站点同属一条工会线" in refused.value.message


def test_a_reviewer_held_back_by_the_tree_is_named_with_the_reason(tree):
    db, s = tree["db"], tree["stations"]
    cid = _campaign(db, tree["admin"], [s["sf"], s["wj"], s["cy"]])  # 朝阳's only
    cp.assign_reviewers(db, cid, tree["admin"])
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "assign")
    assert set(event["detail"]["left_out"]) == {"rc", "rs"}
    assert "rc（朝阳区总工会）：与“朝阳区总工会”的站点同属一条工会线" in event["detail"]["left_out_reasons"]
    assert not {r for _, r in _pairs(db, cid)} & {"rc", "rs"}


def test_a_district_campaign_lets_the_district_unions_own_reviewer_review_its_stations(tree):
    db, s = tree["db"], tree["stations"]
    district_admin = _user(db, "cyadmin", "admin", "朝阳区总工会")
    cid = _campaign(db, district_admin, [s["sf"], s["wj"], s["cy"]], k=1)
    assert cp.get_campaign(db, cid)["union_id"] == tree["unions"]["chaoyang"]
    rule = conflict_rule(db, tree["unions"]["chaoyang"])
    rc, rs = tree["revs"]["rc"]["union_id"], tree["revs"]["rs"]["union_id"]
    assert not rule.conflict(rc, tree["unions"]["sf"])       # the organiser's reviewer reviews any
    assert rule.conflict(rs, tree["unions"]["wangjing"])     # the street above 顺丰 is on its line
    cp.assign_reviewers(db, cid, district_admin)
    assert not {(s["sf"], "rs"), (s["wj"], "rs"), (s["cy"], "rs")} & _pairs(db, cid)


def test_a_nominee_moving_under_a_reviewers_district_moves_the_reviewer(tree):
    db, s = tree["db"], tree["stations"]
    cid = _campaign(db, tree["admin"], list(s.values()))
    cp.assign_reviewers(db, cid, tree["admin"])
    assert (s["hd"], "rc") in _pairs(db, cid)
    storage.update_station(db, s["hd"], {"host_union": "望京街道工会"}, username="city")
    assert (s["hd"], "rc") not in _pairs(db, cid)
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict" and e["detail"]["reviewer"] == "rc")
    assert "与“朝阳区总工会”的站点同属一条工会线" in event["reason"]


def test_a_merge_that_puts_a_reviewer_on_a_nominees_line_holds_or_moves_them(tree):
    db, s = tree["db"], tree["stations"]
    loose = store.add_union(db, "顺丰北京工会", status="unplaced")   # another record of the same union
    _user(db, "ry", "reviewer", "顺丰北京工会")
    for name in ("rc", "rs"):
        db.execute("UPDATE users SET role = 'planner' WHERE username = ?", [name])  # out of the pool
    cid = _campaign(db, tree["admin"], [s["sf"]], k=4)      # rh, rcity, rx, ry: all four on it
    cp.assign_reviewers(db, cid, tree["admin"])
    assert (s["sf"], "ry") in _pairs(db, cid)
    store.merge_unions(db, loose, tree["unions"]["sf"], username="city")
    assert (s["sf"], "ry") not in _pairs(db, cid)
    held = [a for a in cp.list_assignments(db, cid) if a["state"] == "held"]
    assert [a["reviewer"] for a in held] == ["ry"] and "同属" in held[0]["held"]
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict")
    assert "并入" in event["reason"] and "ry" in event["reason"]


def test_placing_a_reviewers_union_under_a_nominees_district_takes_the_reviewer_off(tree):
    db, s = tree["db"], tree["stations"]
    loose = store.add_union(db, "某物流公司工会", status="unplaced")
    _user(db, "rl", "reviewer", "某物流公司工会")
    for name in ("rc", "rs", "rh"):
        db.execute("UPDATE users SET role = 'planner' WHERE username = ?", [name])  # out of the pool
    cid = _campaign(db, tree["admin"], [s["cy"]], k=3)      # rcity, rx, rl: all three on it
    cp.assign_reviewers(db, cid, tree["admin"])
    assert (s["cy"], "rl") in _pairs(db, cid)
    store.move_union(db, loose, tree["unions"]["wangjing"], username="city")
    assert _pairs(db, cid) == {(s["cy"], "rcity"), (s["cy"], "rx")}
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict")
    assert "调整上级" in event["reason"] and "与“朝阳区总工会”的站点同属一条工会线" in event["reason"]


def test_the_eligibility_rows_agree_with_the_rule_for_every_pair(tree):
    """The rows are built from the tree's lines, not pair by pair: they must say what the
    rule says for every reviewer and station, names given without ids included."""
    db = tree["db"]
    rule = conflict_rule(db, tree["unions"]["city"])
    unions = [r[0] for r in db.execute("SELECT id FROM unions")] + [None]
    stations = [{"id": i, "host_union_id": u} for i, u in enumerate(unions)] + [
        {"id": 99, "host_union": "顺丰速运工会 "}, {"id": 100, "host_union": "不在树上的工会"}]
    reviewers = [{"id": i, "union_id": u} for i, u in enumerate(unions)] + [
        {"id": 98, "union_name": "望京街道工会"}, {"id": 99, "union_name": "不在树上的工会"}]
    rows = eligibility(stations, reviewers, rule)
    for station, row in zip(stations, rows):
        assert row.tolist() == [not rule.conflict(reviewer_key(r), station_key(station)) for r in reviewers]
    assert not rows[-2][-2] and not rows[-1][-1]  # 顺丰 under 望京 (by names); the same unknown name
