"""Campaigns run by a union, through the tree (issue 16, point 6): who manages a campaign,
nominations from the organiser's subtree, colleagues of one union seeing the same
nominations, 推荐名额 and forwarding, recommending winners to the level above, and honour
titles named after the awarding union."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import tokens, users
from stations.unions import store
from tests.conftest import csrf_token, make_station

KEYS = ["site", "signage", "facilities", "publicity", "service", "rules", "effect"]
PASSWORD = "tree-pass-123"


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    city = store.add_union(db, "北京市总工会", kind="municipal")
    chaoyang = store.add_union(db, "朝阳区总工会", parent_id=city, kind="district")
    wangjing = store.add_union(db, "望京街道工会", parent_id=chaoyang, kind="street")
    sf = store.add_union(db, "顺丰速运工会（北京分公司）", parent_id=wangjing, aliases=["顺丰速运工会"])
    haidian = store.find_union(db, "海淀区总工会")["id"]  # conftest's reviewer made it, unplaced
    store.move_union(db, haidian, city, kind="district")
    hd_company = store.add_union(db, "海淀某公司工会", parent_id=haidian)
    for name, role, union in [("cityadmin", "admin", "北京市总工会"), ("cyadmin", "admin", "朝阳区总工会"),
                              ("hdadmin", "admin", "海淀区总工会"), ("sf1", "union", "顺丰速运工会"),
                              ("sf2", "union", "顺丰速运工会(北京分公司)"), ("hdu", "union", "海淀某公司工会"),
                              ("rx", "reviewer", None)]:
        users.add_user(db, name, PASSWORD, role, union)
    stations = {"sfA": make_station(db, name="顺丰A站", host_union="顺丰速运工会"),
                "sfB": make_station(db, name="顺丰B站", host_union="顺丰速运工会", lon=116.40),
                "sfC": make_station(db, name="顺丰C站", host_union="顺丰速运工会", lon=116.41),
                "hd": make_station(db, name="海淀某站", host_union="海淀某公司工会", lon=116.30)}
    keys = {name: tokens.issue_token(db, users.get_user(db, name)["id"])
            for name in ["admin", "cityadmin", "cyadmin", "hdadmin", "sf1", "sf2", "hdu", "reviewer", "rx"]}
    return {"db": db, "stations": stations, "tokens": keys,
            "unions": {"city": city, "chaoyang": chaoyang, "sf": sf, "haidian": haidian, "hd": hd_company}}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


def _create(client, world, who="cityadmin", **over):
    body = {"name": "最美站点推树", "year": 2026, "level": "municipal", "quota": 1, "subsidy_yuan": 1000,
            "reviewers_per_station": 1, **over}
    answer = client.post("/api/v1/campaigns", json=body, headers=bearer(world, who))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _nominate(client, world, cid, who, station):
    return client.post(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, who),
                       json={"station_id": world["stations"][station], "reason": "骑手常来，服务很好。"})


def _login(client, username):
    token = csrf_token(client)
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302


def test_honour_titles_name_the_awarding_union_never_shi_ji(client, world):
    assert _create(client, world)["title"] == "2026年北京市最美工会户外劳动者服务站点"
    made = _create(client, world, who="cyadmin", level="district")
    assert made["union_id"] == world["unions"]["chaoyang"]
    assert made["title"] == "2026年朝阳区最美工会户外劳动者服务站点"
    # an admin of no union: from the level; municipal takes the tree's city union
    old = _create(client, world, who="admin")
    assert old["union_id"] is None and old["title"] == "2026年北京市最美工会户外劳动者服务站点"
    assert _create(client, world, who="admin", level="national")["title"] == "2026年全国最美工会户外劳动者服务站点"
    national = store.add_union(world["db"], "中华全国总工会", kind="national")
    cid = _create(client, world, who="admin")["id"]
    world["db"].execute("UPDATE campaigns SET union_id = ? WHERE id = ?", [national, cid])
    assert cp.award_title(cp.get_campaign(world["db"], cid)) == "2026年全国最美工会户外劳动者服务站点"


def test_colleagues_of_one_union_see_the_same_nominations(client, world):
    cid = _create(client, world)["id"]
    assert _nominate(client, world, cid, "sf1", "sfA").status_code == 201
    for who in ("sf1", "sf2"):
        got = client.get(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, who))
        assert got.status_code == 200
        (row,) = got.get_json()["nominations"]
        assert row["station_id"] == world["stations"]["sfA"] and row["union_id"] == world["unions"]["sf"]
        assert row["reason"] == "骑手常来，服务很好。" and row["photos"] == []
    assert client.get(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, "hdu")).get_json() == \
        {"nominations": []}
    assert client.get(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, "reviewer")).status_code == 403
    _login(client, "sf2")
    page = client.get(f"/campaigns/{cid}/nominate").get_data(as_text=True)
    assert "已推荐（1）" in page and "顺丰A站" in page


def test_only_admins_whose_scope_holds_the_campaign_manage_it(client, world):
    cid = _create(client, world)["id"]
    answer = client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "review"}, headers=bearer(world, "cyadmin"))
    assert answer.status_code == 403 and "北京市总工会" in answer.get_json()["error"]["message"]
    assert client.put(f"/api/v1/campaigns/{cid}/rubric", json={"rubric": cp.default_rubric()},
                      headers=bearer(world, "cyadmin")).status_code == 403
    district = _create(client, world, who="cyadmin", level="district")["id"]
    _login(client, "cyadmin")
    assert client.get(f"/campaigns/{cid}/manage").status_code == 403
    assert client.get(f"/campaigns/{cid}/ranking").status_code == 403
    assert client.get(f"/campaigns/{district}/manage").status_code == 200
    listed = client.get("/campaigns").get_data(as_text=True)
    assert f"/campaigns/{cid}/manage" not in listed and f"/campaigns/{district}/manage" in listed
    client.post("/logout", data={"csrf_token": csrf_token(client, "/stations")})
    _login(client, "cityadmin")
    assert client.get(f"/campaigns/{district}/manage").status_code == 200  # the city's scope holds 朝阳


def test_nominations_come_from_the_organisers_subtree(client, world):
    district = _create(client, world, who="cyadmin", level="district")["id"]
    assert _nominate(client, world, district, "sf1", "sfA").status_code == 201
    refused = _nominate(client, world, district, "hdu", "hd")
    assert refused.status_code == 403 and "朝阳区总工会" in refused.get_json()["error"]["message"]
    # an admin nominates only within its own scope
    assert _nominate(client, world, district, "cyadmin", "hd").status_code == 403


def test_a_district_forwards_within_its_quota_and_the_city_reviews_only_those(client, world):
    db, s = world["db"], world["stations"]
    cid = _create(client, world)["id"]
    for station in ("sfA", "sfB", "sfC"):
        assert _nominate(client, world, cid, "sf1", station).status_code == 201
    assert _nominate(client, world, cid, "hdu", "hd").status_code == 201
    _login(client, "cityadmin")
    page = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert "推荐名额" in page and "朝阳区总工会" in page and "海淀区总工会" in page
    answer = client.post(f"/campaigns/{cid}/quotas", data={
        f"quota_{world['unions']['chaoyang']}": "2", f"quota_{world['unions']['haidian']}": "",
        "csrf_token": csrf_token(client, f"/campaigns/{cid}/manage")})
    assert answer.status_code == 302
    assert [(q["name"], q["quota"]) for q in cp.tree.quotas(db, cid)] == [("朝阳区总工会", 2)]

    url = f"/api/v1/campaigns/{cid}/nominations/{{}}/forward"
    listed = client.get(f"/api/v1/campaigns/{cid}/nominations", headers=bearer(world, "cyadmin")).get_json()
    assert sorted(n["station_id"] for n in listed["nominations"]) == sorted([s["sfA"], s["sfB"], s["sfC"]])
    first = client.post(url.format(s["sfA"]), headers=bearer(world, "cyadmin"))
    assert first.status_code == 200 and first.get_json()["count"] == 1 and first.get_json()["quota"] == 2
    assert client.post(url.format(s["sfB"]), headers=bearer(world, "cyadmin")).get_json()["count"] == 2
    over = client.post(url.format(s["sfC"]), headers=bearer(world, "cyadmin"))
    assert over.status_code == 409 and "名额已用完" in over.get_json()["error"]["message"]
    outside = client.post(url.format(s["hd"]), headers=bearer(world, "cyadmin"))
    assert outside.status_code == 403 and "不属于朝阳区总工会" in outside.get_json()["error"]["message"]
    assert client.post(url.format(s["hd"]), headers=bearer(world, "hdadmin")).status_code == 403  # no quota
    assert client.post(url.format(s["sfC"]), headers=bearer(world, "sf1")).status_code == 403
    # withdraw one, forward another
    assert client.delete(url.format(s["sfB"]), headers=bearer(world, "cyadmin")).get_json()["count"] == 1
    assert client.post(url.format(s["sfC"]), headers=bearer(world, "cyadmin")).get_json()["count"] == 2

    moved = client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "review", "reason": "截止"},
                        headers=bearer(world, "cityadmin"))
    assert moved.status_code == 200
    assert sorted(n["station_id"] for n in cp.active_nominations(db, cid)) == sorted([s["sfA"], s["sfC"]])
    late = client.post(url.format(s["sfB"]), headers=bearer(world, "cyadmin"))
    assert late.status_code == 409


def test_the_organiser_recommends_winners_to_the_level_above_as_its_own_list(client, world):
    db, s = world["db"], world["stations"]
    cid = _create(client, world, quota=2)["id"]
    for station in ("sfA", "hd"):
        assert _nominate(client, world, cid, "cityadmin", station).status_code == 201
    city = users.get_user(db, "cityadmin")
    cp.advance_stage(db, cid, "review", city, reason="截止")
    cp.assign_reviewers(db, cid, city)
    for a in cp.list_assignments(db, cid):
        score = 9 if a["station_id"] == s["hd"] else 7
        cp.save_review(db, cid, a["station_id"], {"scores": {k: score for k in KEYS}, "submit": True},
                       users.get_user(db, a["reviewer"]))
    cp.advance_stage(db, cid, "notice", city, reason="评审完成")
    cp.advance_stage(db, cid, "confirmed", city, reason="公示无异议", force=True)
    from stations import storage
    assert storage.get_station(db, s["hd"])["awards"][-1]["title"] == "2026年北京市最美工会户外劳动者服务站点"
    _login(client, "cityadmin")
    page = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert "推荐参评全国最美站点" in page
    answer = client.post(f"/campaigns/{cid}/recommend", data={"count": "1",
                                                             "csrf_token": csrf_token(client, f"/campaigns/{cid}/manage")})
    assert answer.status_code == 302
    csv = client.get(f"/campaigns/{cid}/recommended.csv").get_data(as_text=True)
    assert "海淀某站" in csv and "顺丰A站" not in csv
    xlsx = client.get(f"/campaigns/{cid}/recommended.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    too_many = client.post(f"/campaigns/{cid}/recommend", data={"count": "5",
                                                               "csrf_token": csrf_token(client, f"/campaigns/{cid}/manage")})
    assert too_many.status_code == 302
    assert "推荐上级的站点数应在 0 到 2 之间" in client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/stations")})
    _login(client, "cyadmin")
    assert client.get(f"/campaigns/{cid}/recommended.csv").status_code == 403


def test_a_quota_follows_its_union_into_a_merge(client, world):
    db = world["db"]
    cid = _create(client, world)["id"]
    twin = store.add_union(db, "朝阳区工会", parent_id=world["unions"]["city"], kind="district")
    city = users.get_user(db, "cityadmin")
    cp.tree.set_quotas(db, cid, {twin: 3, world["unions"]["chaoyang"]: 2}, city)
    store.merge_unions(db, twin, world["unions"]["chaoyang"], username="cityadmin")
    assert [(q["name"], q["quota"]) for q in cp.tree.quotas(db, cid)] == [("朝阳区总工会", 5)]
    refused = client.post(f"/api/v1/campaigns/{cid}/nominations/{world['stations']['sfA']}/forward",
                          headers=bearer(world, "cyadmin"))
    assert refused.status_code == 404  # not nominated: nothing to forward
