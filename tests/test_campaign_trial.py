"""Issue 17: what a whole campaign run by its people ran into, one test (or a few) per
defect, each through the pages or the API the organiser, reviewers and unions use."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import tokens, users
from tests.conftest import csrf_token, make_station

UNIONS = ["东城区总工会", "西城区总工会", "海淀区总工会"]


@pytest.fixture
def world(app, fresh_db):
    db = fresh_db
    for i in range(6):
        users.add_user(db, f"rv{i}", "review-pass-1", "reviewer", UNIONS[i % 3], create_union=True)
    users.add_user(db, "dc", "union-pass-1", "union", UNIONS[0], create_union=True)
    stations = [make_station(db, name=f"驿站{i}", host_union=UNIONS[i % 3], lon=116.39 + i * 0.001)
                for i in range(6)]
    keys = {name: tokens.issue_token(db, users.get_user(db, name)["id"])
            for name in ["admin", "reviewer", "dc"] + [f"rv{i}" for i in range(6)]}
    return {"db": db, "stations": stations, "tokens": keys, "admin": users.get_user(db, "admin")}


def bearer(world, name):
    return {"Authorization": f"Bearer {world['tokens'][name]}"}


BODY = {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal", "quota": 2, "subsidy_yuan": 30000,
        "reviewers_per_station": 2}


def _create(client, world, **over):
    answer = client.post("/api/v1/campaigns", json={**BODY, **over}, headers=bearer(world, "admin"))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


# --- item 3: an impossible campaign, settings, cancelling, duplicate names ----------------

def test_more_reviewers_per_station_than_reviewers_is_refused(client, world, auth):
    pool = world["db"].execute("SELECT count(*) FROM users WHERE role = 'reviewer'").fetchone()[0]
    answer = client.post("/api/v1/campaigns", json={**BODY, "reviewers_per_station": pool + 1},
                         headers=bearer(world, "admin"))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["parameter"] == "reviewers_per_station"
    assert f"现只有 {pool} 位评审专家" in answer.get_json()["error"]["message"]
    auth.login("admin")
    form = {**BODY, "reviewers_per_station": str(pool + 1), "csrf_token": csrf_token(client, "/campaigns/new")}
    page = client.post("/campaigns/new", data=form)
    assert page.status_code == 400 and "永远无法分配评审" in page.get_data(as_text=True)
    assert world["db"].execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_settings_can_be_edited_until_review_and_each_change_is_logged(client, world, auth):
    cid = _create(client, world)
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/settings").get_data(as_text=True)
    assert 'value="2021年北京市最美站点"' in page
    form = {**BODY, "quota": "3", "reviewers_per_station": "3", "csrf_token": csrf_token(client, f"/campaigns/{cid}/settings")}
    answer = client.post(f"/campaigns/{cid}/settings", data=form, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "已修改 2 项设置" in text
    assert "名额：2 → 3" in text and "每站评审人数：2 → 3" in text  # in the log on the manage page
    campaign = cp.get_campaign(world["db"], cid)
    assert (campaign["quota"], campaign["reviewers_per_station"]) == (3, 3)
    # refused settings keep what was typed
    form["reviewers_per_station"] = "9"
    form["quota"] = "5"
    refused = client.post(f"/campaigns/{cid}/settings", data=form)
    assert refused.status_code == 400 and 'value="5"' in refused.get_data(as_text=True)
    # once review starts, settings are closed
    db = world["db"]
    for sid in world["stations"][:2]:
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, world["admin"])
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    with pytest.raises(cp.CampaignError) as closed:
        cp.update_campaign(db, cid, {**BODY, "quota": 4}, world["admin"])
    assert closed.value.status == 409 and "撤销" in closed.value.message


def test_a_campaign_is_cancelled_at_any_stage_kept_in_the_log_and_then_refuses_everything(client, world, auth):
    db = world["db"]
    cid = _create(client, world)
    for sid in world["stations"][:3]:
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, world["admin"])
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    auth.login("admin")
    token = csrf_token(client, f"/campaigns/{cid}/manage")
    assert "撤销活动" in client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    empty = client.post(f"/campaigns/{cid}/archive", data={"reason": " ", "csrf_token": token}, follow_redirects=True)
    assert "请填写撤销理由" in empty.get_data(as_text=True) and not cp.get_campaign(db, cid)["archived"]
    done = client.post(f"/campaigns/{cid}/archive", data={"reason": "每站评审人数设错，重新创建", "csrf_token": token},
                       follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "活动已撤销" in text and "每站评审人数设错，重新创建" in text
    event = cp.campaign_log(db, cid)[-1]
    assert (event["kind"], event["from_stage"], event["reason"]) == ("archive", "review", "每站评审人数设错，重新创建")
    with pytest.raises(cp.CampaignError) as refused:
        cp.assign_reviewers(db, cid, world["admin"])
    assert refused.value.status == 409 and "已" in refused.value.message and "撤销" in refused.value.message
    assert client.post(f"/api/v1/campaigns/{cid}/stage", json={"stage": "notice", "force": True, "reason": "x"},
                       headers=bearer(world, "admin")).status_code == 409
    # the organiser still finds it, marked; nobody else sees it
    assert "已撤销" in client.get("/campaigns").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/campaigns")})
    assert "已撤销" not in client.get("/campaigns").get_data(as_text=True)
    auth.login("reviewer")
    assert "2021年北京市最美站点" not in client.get("/campaigns").get_data(as_text=True)


def test_a_second_campaign_of_the_same_name_is_accepted_with_a_warning(client, world, auth):
    first = _create(client, world)
    again = client.post("/api/v1/campaigns", json={**BODY, "name": " 2021年北京市最美站点"},
                        headers=bearer(world, "admin"))
    assert again.status_code == 201
    assert f"已有同名活动 #{first}" in again.get_json()["warnings"][0]
    auth.login("admin")
    form = {**BODY, "name": "2021年北京市最美站点", "csrf_token": csrf_token(client, "/campaigns/new")}
    page = client.post("/campaigns/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert f"已有同名活动 #{first}" in page and "撤销多余的一个" in page
    other = client.post("/api/v1/campaigns", json={**BODY, "name": "2022年北京市最美站点"}, headers=bearer(world, "admin"))
    assert other.get_json()["warnings"] == []


# --- item 2: a refused 提交 on the review form keeps the work ------------------------------

def _in_review(world):
    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    for sid in world["stations"][:3]:
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, world["admin"])
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    pairs = cp.assign_reviewers(db, cid, world["admin"])
    return cid, pairs


def test_a_refused_submit_keeps_the_scores_as_a_draft_and_names_every_missing_criterion(client, world):
    db = world["db"]
    cid, pairs = _in_review(world)
    mine = pairs[0]
    password = "review-pass-1"  # the conftest's "reviewer" has the same
    assert client.post("/login", data={"username": mine["reviewer"], "password": password,
                                       "csrf_token": csrf_token(client)}).status_code == 302
    url = f"/campaigns/{cid}/review/{mine['station_id']}"
    page = client.get(url).get_data(as_text=True)
    assert page.count(f'formaction="{url}#errors"') == 2  # a refused form comes back at the errors, not the top
    form = {"csrf_token": csrf_token(client, url), "action": "submit", "score_site": "8", "score_signage": "7.5",
            "note_site": "场地宽敞", "note": "总体不错", "item": ["fixed_place"]}
    answer = client.post(url, data=form)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    # every missing criterion is named, not only the first
    for name in ("有设施", "有宣传", "有服务", "有制度", "有成效"):
        assert f"“{name}”" in text and f"{name}：未打分" in text
    assert 'id="errors"' in text and "已存为草稿" in text
    # what was typed is on the page and kept as a draft
    assert 'value="7.5"' in text and "场地宽敞" in text
    saved = cp.get_review(db, cid, mine["station_id"], users.get_user(db, mine["reviewer"])["id"])
    assert saved["scores"] == {"site": 8.0, "signage": 7.5} and not saved["submitted"]
    assert saved["notes"]["site"] == "场地宽敞" and saved["note"] == "总体不错"


def test_the_api_refused_submit_lists_the_missing_criteria_and_keeps_a_draft(client, world):
    db = world["db"]
    cid, pairs = _in_review(world)
    mine = pairs[0]
    answer = client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, mine["reviewer"]),
                         json={"station_id": mine["station_id"], "scores": {"site": 9}, "submit": True})
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["parameter"] == "scores.signage" and len(error["missing"]) == 6 and error["draft_saved"]
    saved = cp.get_review(db, cid, mine["station_id"], users.get_user(db, mine["reviewer"])["id"])
    assert saved["scores"] == {"site": 9.0} and not saved["submitted"]


# --- item 4: the organiser acts on a 面子工程 flag -----------------------------------------

def _scored(world, totals, items=None):
    """A campaign in review whose nominees get these scores (every criterion) from each
    reviewer, and these ticked items ({station index: [item keys]})."""
    db = world["db"]
    cid, pairs = _in_review(world)
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    order = world["stations"][:3]
    for a in pairs:
        at = order.index(a["station_id"])
        cp.save_review(db, cid, a["station_id"], {"scores": {k: totals[at] for k in keys}, "submit": True,
                                                  "items": (items or {}).get(at, [])},
                       users.get_user(db, a["reviewer"]))
    return cid


def test_the_organiser_holds_or_excludes_a_station_with_a_reason_and_the_next_moves_up(client, world, auth):
    db = world["db"]
    first, second, third = world["stations"][:3]
    cid = _scored(world, [9, 8, 7])   # quota 2: first and second listed
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "暂缓/排除" in page
    token = csrf_token(client, f"/campaigns/{cid}/ranking")
    empty = client.post(f"/campaigns/{cid}/hold", data={"station_id": first, "action": "hold", "reason": "",
                                                         "csrf_token": token}, follow_redirects=True)
    assert "请填写理由" in empty.get_data(as_text=True)
    answer = client.post(f"/campaigns/{cid}/hold", data={"station_id": first, "action": "exclude",
                                                          "reason": "面子工程：实地核查无人值守", "csrf_token": token},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "已排除，不占名次，下一名递补" in text and "面子工程：实地核查无人值守" in text  # on the ranking
    ranks = {r["station_id"]: r["rank"] for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert ranks == {first: None, second: 1, third: 2}
    log = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert "暂缓/排除站点" in log and "（排除）" in log and "面子工程：实地核查无人值守" in log
    # a hold must be settled before 公示; the list published leaves the excluded out
    cp.set_hold(db, cid, {"station_id": second, "action": "hold", "reason": "待核查台账"}, world["admin"])
    with pytest.raises(cp.CampaignError) as pending:
        cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    assert pending.value.status == 409 and "暂缓" in pending.value.message
    cp.set_hold(db, cid, {"station_id": second, "action": "release", "reason": "台账已核实"}, world["admin"])
    cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    listed = [s["station_id"] for s in cp.notice_list(db, cid)["stations"]]
    assert listed == [second, third]


# --- item 5: the reassign form offers only eligible reviewers and refuses on the page ------

def test_the_reassign_form_offers_only_eligible_reviewers_and_refuses_on_the_page(client, world, auth):
    db = world["db"]
    cid, pairs = _in_review(world)
    station = pairs[0]["station_id"]
    host = storage_host(db, station)
    on = {a["reviewer"] for a in pairs if a["station_id"] == station}
    conflicted = sorted(r["username"] for r in cp.reviewers(db) if r["union_name"] == host)
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/manage?station={station}").get_data(as_text=True)
    form = page[page.index('name="to_reviewer"'):]
    form = form[:form.index("</select>")]
    assert conflicted and not any(f'value="{name}"' in form for name in conflicted)
    assert not any(f'value="{name}"' in form for name in on)
    free = [r["username"] for r in cp.reviewers(db) if r["union_name"] != host and r["username"] not in on]
    assert all(f'value="{name}"' in form for name in free)
    # a stale page choosing a conflicted reviewer: refused on the page, the choices kept
    token = csrf_token(client, f"/campaigns/{cid}/manage")
    giver = sorted(on)[0]
    answer = client.post(f"/campaigns/{cid}/reassign", data={"station_id": station, "from_reviewer": giver,
                                                              "to_reviewer": conflicted[0], "csrf_token": token})
    text = answer.get_data(as_text=True)
    assert "利益冲突" in text and 'id="reassign-error"' in text
    assert f'<option value="{giver}" selected>' in text and 'name="csrf_token"' in text  # the page, not a bare 403
    # an unbalancing change (a reviewer with one station already takes a second, the giver
    # keeps none): the same, the page asks for a swap and keeps the choices
    loads = {}
    for a in pairs:
        loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
    busy = next(name for name in free if loads.get(name) == 1)
    unbalanced = client.post(f"/campaigns/{cid}/reassign", data={"station_id": station, "from_reviewer": giver,
                                                                  "to_reviewer": busy, "csrf_token": token})
    assert unbalanced.status_code == 400 and "请同时交换一个站点" in unbalanced.get_data(as_text=True)
    assert f'<option value="{busy}" selected>' in unbalanced.get_data(as_text=True)


def storage_host(db, station_id):
    from stations import storage

    return storage.get_station(db, station_id)["host_union"]


# --- item 8: the ranking shows the quota line, removals, and why ties stand as they do ----

def test_the_ranking_page_shows_the_quota_line_removals_and_the_public_places(client, world, auth):
    db = world["db"]
    first, second, third = world["stations"][:3]
    # second and third tie at 80; third's reviewers both confirm a priority item (24-hour service)
    cid = _scored(world, [9, 8, 8], items={2: ["service_24h"]})
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "名额线：以上 2 个入选" in page
    assert "与“驿站1”同分（80.00），排在前：过半评审确认的优先推荐项 1 项对 0 项" in page
    assert "与“驿站2”同分（80.00），排在后" in page
    cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    made = cp.lodge_objection(db, cid, {"station_id": first, "reason": "站点常年锁门，骑手进不去"},
                              client="c1", limits={"per_client": 5, "global": 100})
    cp.resolve_objection(db, cid, made["id"], {"upheld": True, "reason": "实地核查属实"}, world["admin"])
    listed = [(s["rank"], s["station_id"]) for s in cp.notice_list(db, cid)["stations"]]
    assert listed == [(1, third), (2, second)]
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    rows = {sid: page[page.index(f"#{sid} "):][:3000] for sid in (first, second, third)}
    assert "已移出" in rows[first] and "异议成立：实地核查属实" in rows[first]
    places = [p for p in __import__("re").findall(r'<td class="num">(\d+|—)(?:<span[^>]*>[^<]*</span>)?</td>\s*<td>驿站', page)]
    assert places == ["—", "1", "2"]  # the same places as the public list: the removed one has none
    edge = page[page.index("quota-edge"):]
    assert f"#{second} " in edge[:edge.index("</tr>")] and "名额线：以上 2 个入选公示名单" in edge


# --- item 6: one 七有 figure on the station page and the award list ------------------------

def test_the_station_page_gives_the_award_total_and_explains_it(client, world):
    db = world["db"]
    admin = world["admin"]
    cid = cp.create_campaign(db, {**BODY, "quota": 1, "reviewers_per_station": 5}, admin)
    east, west = world["stations"][0], world["stations"][1]
    for sid in (east, west):
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="截止")
    pairs = cp.assign_reviewers(db, cid, admin)
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    spread = {}
    for a in pairs:  # five reviewers each, scores 5..9 and one harsh criterion: trimming changes the total
        n = spread.setdefault(a["station_id"], [])
        n.append(a["reviewer"])
        base = 4 + len(n)
        scores = {k: base for k in keys}
        scores["site"] = 10 if len(n) == 5 else 2
        cp.save_review(db, cid, a["station_id"], {"scores": scores, "submit": True}, users.get_user(db, a["reviewer"]))
    cp.advance_stage(db, cid, "notice", admin, reason="评审完成")
    cp.advance_stage(db, cid, "confirmed", admin, reason="提前确认", force=True)
    award = db.execute("SELECT station_id, total FROM awards WHERE campaign_id = ?", [cid]).fetchone()
    checklist = cp.latest_checklist(db, award[0])
    assert checklist["total"] == award[1]
    page = client.get(f"/stations/{award[0]}").get_data(as_text=True)
    assert f"{award[1]:.2f} 分" in page and f"总分 {award[1]:.2f}" in page
    assert "总分即评选总分（与获奖名单一致）" in page and "去掉一个最高分和一个最低分" in page
    means = {k: v["score"] for k, v in checklist["criteria"].items()}
    assert round(cp.weighted_total(means, cp.default_rubric()), 2) != award[1]  # why the words are needed


# --- item 10: the 公示 period: a chosen start, 工作日, and the confirmation date -------------

def test_notice_period_in_working_days_skips_the_national_day_holiday():
    from datetime import date

    from stations.campaign.period import notice_end

    # 2026: 10-01..10-07 off, Saturday 10-10 a make-up working day (调休)
    assert notice_end(date(2026, 9, 30), 5, True) == date(2026, 10, 12)
    assert notice_end(date(2026, 9, 30), 5, False) == date(2026, 10, 4)


def test_the_organiser_sets_the_start_and_an_early_confirmation_ends_the_period_publicly(client, world, auth):
    from datetime import timedelta

    from stations.campaign.store import today

    db = world["db"]
    cid = _scored(world, [9, 8, 7])
    start = today() + timedelta(days=3)
    auth.login("admin")
    desk = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert 'name="notice_start"' in desk and 'name="notice_workdays"' in desk
    token = csrf_token(client, f"/campaigns/{cid}/manage")
    past = client.post(f"/campaigns/{cid}/stage", data={"stage": "notice", "reason": "评审完成", "csrf_token": token,
                                                        "notice_start": (today() - timedelta(days=1)).isoformat()},
                       follow_redirects=True)
    assert "已经过去" in past.get_data(as_text=True) and cp.get_campaign(db, cid)["stage"] == "review"
    client.post(f"/campaigns/{cid}/stage", data={"stage": "notice", "reason": "评审完成", "csrf_token": token,
                                                 "notice_start": start.isoformat()})
    campaign = cp.get_campaign(db, cid)
    assert (campaign["notice_start"], campaign["notice_end"]) == (start.isoformat(), (start + timedelta(days=6)).isoformat())
    public = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert f"公示将于 {start} 开始" in public and "7 个自然日" in public
    with pytest.raises(cp.CampaignError) as early:
        cp.lodge_objection(db, cid, {"station_id": world["stations"][0], "reason": "站点常年锁门，骑手进不去"},
                           client="c1", limits={"per_client": 5, "global": 100})
    assert f"公示期自 {start} 开始" in early.value.message
    cp.advance_stage(db, cid, "confirmed", world["admin"], reason="上级要求提前确认", force=True)
    public = client.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert f"名单已于 {today()} 确认，公示期（原定 {start} 至" in public and "提前结束" in public
    assert "公示期：" not in public and "提出异议" not in public
    api = client.get(f"/api/v1/campaigns/{cid}/notice").get_json()
    assert api["schedule"]["state"] == "ended_early" and api["schedule"]["confirmed_at"] == today().isoformat()


# --- item 9: photos for the organiser; unions add photos, withdraw, follow progress --------

def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _login(client, name, password):
    assert client.post("/login", data={"username": name, "password": password,
                                       "csrf_token": csrf_token(client)}).status_code == 302


def test_union_staff_keep_word_of_photos_add_photos_withdraw_and_follow_progress(client, world, auth):
    import io

    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    own = [s for s in world["stations"] if storage_host(db, s) == UNIONS[0]]
    _login(client, "dc", "union-pass-1")
    url = f"/campaigns/{cid}/nominate"
    token = csrf_token(client, url)
    # a refused form (reason too short) says the photo chosen was not kept
    refused = client.post(url, data={"station_id": str(own[0]), "reason": "好", "csrf_token": token,
                                     "photos": (io.BytesIO(_jpeg()), "门头.jpg")}, content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "门头.jpg" in text and "没有保存" in text and "重新选择照片" in text
    for sid in own:
        assert client.post(url, data={"station_id": str(sid), "reason": "骑手常来，服务很好。", "csrf_token": token},
                           content_type="multipart/form-data").status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "进展：已推荐，等待推荐截止后进入综合评议" in page and "补充照片" in page and "撤回推荐" in page
    # add a photo on the web
    added = client.post(f"/campaigns/{cid}/nominations/{own[0]}/photos", follow_redirects=True,
                        data={"csrf_token": token, "photos": (io.BytesIO(_jpeg()), "内景.jpg")},
                        content_type="multipart/form-data")
    assert "已为“" in added.get_data(as_text=True) and "添加 1 张照片" in added.get_data(as_text=True)
    photo_id = cp.nomination_photos(db, cid)[own[0]][0]["id"]
    assert f"/campaigns/{cid}/photos/{photo_id}" in added.get_data(as_text=True)
    # withdraw one, with a reason kept in the log
    gone = client.post(f"/campaigns/{cid}/nominations/{own[1]}/withdraw", follow_redirects=True,
                       data={"csrf_token": token, "reason": "站点装修，暂不参评"})
    assert "已撤回对“" in gone.get_data(as_text=True) and "推荐单位撤回：站点装修，暂不参评" in gone.get_data(as_text=True)
    assert [n["station_id"] for n in cp.active_nominations(db, cid)] == [own[0]]
    assert cp.campaign_log(db, cid)[-1]["kind"] == "withdraw"
    # the organiser sees the photo on the desk
    client.post("/logout", data={"csrf_token": csrf_token(client, "/campaigns")})
    auth.login("admin")
    desk = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    assert f'src="/campaigns/{cid}/photos/{photo_id}"' in desk
    # progress through review, as the union sees it (counts, never scores)
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    cp.assign_reviewers(db, cid, world["admin"])
    progress = {n["station_id"]: n["progress"] for n in cp.union_nominations(db, cid, users.get_user(db, "dc"))}
    assert progress[own[0]] == "综合评议中：0/2 位评审已提交评分"
    assert progress[own[1]] == "推荐单位撤回：站点装修，暂不参评"


# --- item 11: one score rule, stated; "1,5" accepted where a number is typed --------------

def test_scores_and_weights_typed_with_a_decimal_comma_are_accepted_under_one_stated_rule(client, world, auth):
    db = world["db"]
    cid, pairs = _in_review(world)
    mine = pairs[0]
    _login(client, mine["reviewer"], "review-pass-1")
    url = f"/campaigns/{cid}/review/{mine['station_id']}"
    page = client.get(url).get_data(as_text=True)
    assert "得分（0–10，可带一位小数，如 7.5 或 7,5）" in page and 'step="0.5"' not in page
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    form = {"csrf_token": csrf_token(client, url), "action": "draft", **{f"score_{k}": "8" for k in keys}}
    form["score_site"], form["score_signage"] = "7,5", "９．２"
    assert client.post(url, data=form).status_code == 302
    saved = cp.get_review(db, cid, mine["station_id"], users.get_user(db, mine["reviewer"])["id"])
    assert saved["scores"]["site"] == 7.5 and saved["scores"]["signage"] == 9.2
    form["score_site"] = "7,5,1"
    refused = client.post(url, data=form)
    assert refused.status_code == 400 and "收到“7,5,1”" in refused.get_data(as_text=True)
    # the API: the same rule (one decimal), and a typed string with a comma too
    api = client.post(f"/api/v1/campaigns/{cid}/reviews", headers=bearer(world, mine["reviewer"]),
                      json={"station_id": mine["station_id"], "scores": {"site": "6,5", "signage": 7.25}})
    assert api.status_code in (200, 201), api.get_json()
    saved = cp.get_review(db, cid, mine["station_id"], users.get_user(db, mine["reviewer"])["id"])
    assert saved["scores"]["site"] == 6.5 and saved["scores"]["signage"] == 7.2


def test_a_rubric_weight_typed_with_a_decimal_comma_is_accepted(client, world, auth):
    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    auth.login("admin")
    url = f"/campaigns/{cid}/rubric"
    page = client.get(url).get_data(as_text=True)
    import re

    form = {m.group(1): m.group(2) for m in re.finditer(r'name="(c\d+_(?:name|weight))" value="([^"]*)"', page)}
    form.update({m.group(1): m.group(2) for m in re.finditer(r'<textarea name="(c\d+_items)"[^>]*>([^<]*)</textarea>', page)})
    form["c0_weight"] = "1,5"
    form["csrf_token"] = csrf_token(client, url)
    answer = client.post(url, data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert cp.get_campaign(db, cid)["rubric"]["criteria"][0]["weight"] == 1.5


# --- item 12: both readings of the notice's 优先推荐 sentence, the one in use stated --------

def test_the_rubric_page_offers_both_readings_of_the_priority_sentence_and_states_the_one_used(client, world, auth):
    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    auth.login("admin")
    url = f"/campaigns/{cid}/rubric"
    page = client.get(url).get_data(as_text=True)
    assert "本活动采用：</strong>只有“具备24小时服务能力”优先推荐" in page
    assert "有如厕区、有休息区、具备24小时服务能力的，都优先推荐" in page
    answer = client.post(f"/campaigns/{cid}/priority-reading", data={"reading": "broad",
                                                                     "csrf_token": csrf_token(client, url)},
                         follow_redirects=True)
    assert "本活动采用：</strong>有如厕区、有休息区、具备24小时服务能力的，都优先推荐" in answer.get_data(as_text=True)
    priority = {i["key"] for c in cp.get_campaign(db, cid)["rubric"]["criteria"] for i in c["items"] if i["priority"]}
    assert {"toilet", "rest_area", "service_24h"} <= priority
    assert cp.campaign_log(db, cid)[-1]["detail"] == {"priority_reading": "broad"}
    cp.set_priority_reading(db, cid, "narrow", world["admin"])
    priority = {i["key"] for c in cp.get_campaign(db, cid)["rubric"]["criteria"] for i in c["items"] if i["priority"]}
    assert "toilet" not in priority and "service_24h" in priority


# --- item 7: radar labels inside the chart ------------------------------------------------

def _labels_outside(svg: str) -> list[str]:
    """Labels of a radar SVG that reach outside its viewBox (widths as radar.text_width)."""
    import re
    from html import unescape

    from stations.campaign.radar import text_width

    left, top, width, height = (float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split())
    out = []
    for m in re.finditer(r'<text x="([-\d.]+)" y="([-\d.]+)" font-size="(\d+)"(?: text-anchor="(\w+)")?>([^<]*)</text>', svg):
        x, y, size, anchor, text = float(m.group(1)), float(m.group(2)), float(m.group(3)), m.group(4) or "start", unescape(m.group(5))
        w = text_width(text, size)
        start = {"start": x, "end": x - w, "middle": x - w / 2}[anchor]
        if start < left or start + w > left + width or y - size < top or y > top + height:
            out.append(text)
    return out


def test_radar_labels_stay_inside_the_chart_on_the_ranking_and_the_station_page(client, world, auth):
    import re

    rubric = cp.default_rubric()
    rubric["criteria"][2]["name"] = "有设施设备齐全"  # a long renamed criterion
    scores = {c["key"]: 8.25 for c in rubric["criteria"]}
    for size in (180, 220):
        svg = cp.radar_svg(rubric["criteria"], scores, size=size, title="驿站")
        assert _labels_outside(svg) == [], size
    two = cp.radar_svg(rubric["criteria"][:2], scores, size=180)
    assert _labels_outside(two) == []
    db = world["db"]
    cid = _scored(world, [9.25, 8.75, 7.5])
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    charts = re.findall(r'<svg[^>]*class="radar".*?</svg>', page, re.S)
    assert charts and all(_labels_outside(svg) == [] for svg in charts)
    inspected = cp.inspect_station(db, world["stations"][0], {"scores": {c["key"]: 7.75 for c in cp.default_rubric()["criteria"]}},
                                   world["admin"])
    assert inspected["total"]
    station = client.get(f"/stations/{world['stations'][0]}").get_data(as_text=True)
    charts = re.findall(r'<svg[^>]*class="radar".*?</svg>', station, re.S)
    assert charts and all(_labels_outside(svg) == [] for svg in charts)


# --- expected: a per-reviewer progress table ----------------------------------------------

def test_the_organiser_sees_each_reviewers_progress(client, world, auth):
    db = world["db"]
    cid, pairs = _in_review(world)
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    first = pairs[0]
    reviewer = users.get_user(db, first["reviewer"])
    cp.save_review(db, cid, first["station_id"], {"scores": {k: 8 for k in keys}, "submit": True}, reviewer)
    loads = {}
    for a in pairs:
        loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    section = page[page.index('id="progress"'):]
    row = section[section.index(f"<td>{first['reviewer']}</td>"):]
    assert f'<td class="num">1/{loads[first["reviewer"]]}</td>' in row[:row.index("</tr>")]
    assert section.count("<tr") == len(loads) + 1


# --- expected: a pass mark ----------------------------------------------------------------

def test_a_station_below_the_pass_mark_is_not_listed_whatever_the_quota(client, world, auth):
    db = world["db"]
    first, second, third = world["stations"][:3]
    cid = cp.create_campaign(db, {**BODY, "quota": 3, "pass_mark": "75,5"}, world["admin"])
    assert cp.get_campaign(db, cid)["pass_mark"] == 75.5
    with pytest.raises(cp.CampaignError) as bad:
        cp.update_campaign(db, cid, {**BODY, "quota": 3, "pass_mark": "120"}, world["admin"])
    assert bad.value.field == "pass_mark"
    for sid in (first, second, third):
        cp.nominate(db, cid, {"station_id": sid, "reason": "骑手常来。"}, world["admin"])
    cp.advance_stage(db, cid, "review", world["admin"], reason="截止")
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    score = {first: 9, second: 8, third: 7}
    for a in cp.assign_reviewers(db, cid, world["admin"]):
        cp.save_review(db, cid, a["station_id"], {"scores": {k: score[a["station_id"]] for k in keys}, "submit": True},
                       users.get_user(db, a["reviewer"]))
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "总分低于 75.5 分的不入选" in page and "低于最低总分 75.5" in page
    cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    assert [s["station_id"] for s in cp.notice_list(db, cid)["stations"]] == [first, second]  # quota 3, 70 < 75.5


# --- expected: a printable 公示 notice ---------------------------------------------------

def test_the_printable_notice_carries_issuer_period_unions_addresses_contact_and_changes(client, world, auth):
    db = world["db"]
    first, second, third = world["stations"][:3]
    cid = _scored(world, [9, 8, 7])  # quota 2
    cp.set_notice_details(db, cid, {"issuer": "北京市总工会", "objection_contact": "电话 010-12351，或来信寄东城区某路1号"},
                          world["admin"])
    cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    made = cp.lodge_objection(db, cid, {"station_id": first, "reason": "站点常年锁门，骑手进不去"},
                              client="c1", limits={"per_client": 5, "global": 100})
    cp.resolve_objection(db, cid, made["id"], {"upheld": True, "reason": "实地核查属实"}, world["admin"])
    page = client.get(f"/campaigns/{cid}/notice/print")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    campaign = cp.get_campaign(db, cid)
    assert "北京市总工会" in text and "电话 010-12351，或来信寄东城区某路1号" in text
    assert f"公示期：{campaign['notice_start']} 至 {campaign['notice_end']}" in text
    assert "经核查，“驿站0”取消推树资格，由“驿站2”递补。" in text
    for sid in (second, third):
        station = storage_host(db, sid)
        assert station in text
    assert "北京市东城区东长安街1号" in text  # each station's address
    assert "@media print" in client.get("/static/campaign.css").get_data(as_text=True)
    assert "站点常年锁门" not in text  # the objection's words are not published


# --- expected: nominating by search --------------------------------------------------------

def test_nominating_by_search_instead_of_a_bare_station_number(client, world, auth):
    db = world["db"]
    cid = cp.create_campaign(db, {**BODY}, world["admin"])
    target = make_station(db, name="望京暖心驿站", host_union=UNIONS[0], address="北京市朝阳区望京街10号")
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/nominate?q=望京").get_data(as_text=True)
    assert "找到 1 个" in page and f'name="station_id" value="{target}"' in page and "望京街10号" in page
    form = {"station_id": str(target), "reason": "骑手常来，服务很好。", "csrf_token": csrf_token(client, f"/campaigns/{cid}/nominate")}
    assert client.post(f"/campaigns/{cid}/nominate", data=form, content_type="multipart/form-data").status_code == 302
    again = client.get(f"/campaigns/{cid}/nominate?q=望京").get_data(as_text=True)
    assert "已被推荐" in again
    # a union finds only its own union's stations
    other = make_station(db, name="望京二号驿站", host_union=UNIONS[1])
    found = cp.find_nominees(db, cid, users.get_user(db, "dc"), "望京")
    assert [s["id"] for s in found] == [target] and other not in [s["id"] for s in found]


# --- expected: records for the file --------------------------------------------------------

def test_the_organiser_exports_every_review_and_the_ranking_with_flags_and_tie_break(client, world, auth):
    import csv
    import io

    from openpyxl import load_workbook

    db = world["db"]
    first, second, third = world["stations"][:3]
    cid = _scored(world, [9, 8, 8], items={2: ["service_24h"]})
    cp.set_hold(db, cid, {"station_id": first, "action": "exclude", "reason": "面子工程核实"}, world["admin"])
    auth.login("admin")
    page = client.get(f"/campaigns/{cid}/ranking").get_data(as_text=True)
    assert "导出评审记录 XLSX" in page and "导出排名 XLSX" in page
    reviews = client.get(f"/campaigns/{cid}/records/reviews.csv")
    assert reviews.status_code == 200 and "attachment" in reviews.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(reviews.get_data().decode("utf-8-sig"))))
    assert lines[0][:4] == ["站点编号", "站点名称", "评审（登录名）", "评审所属工会"]
    assert len(lines) == 1 + 6  # three stations × two reviewers
    assert {line[2] for line in lines[1:]} <= {r["username"] for r in cp.reviewers(db)}
    ranking = client.get(f"/campaigns/{cid}/records/ranking.xlsx")
    sheet = load_workbook(io.BytesIO(ranking.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[1]
    at = {name: header.index(name) for name in ("名次", "站点名称", "同分排序", "暂缓/排除/移出", "优先推荐项（过半确认）")}
    body = {row[at["站点名称"]]: row for row in rows[2:]}
    assert body["驿站0"][at["暂缓/排除/移出"]] == "排除：面子工程核实" and body["驿站0"][at["名次"]] is None
    assert body["驿站2"][at["名次"]] == 1 and body["驿站2"][at["优先推荐项（过半确认）"]] == 1
    assert "过半评审确认的优先推荐项 1 项对 0 项" in body["驿站2"][at["同分排序"]]
    # not for reviewers
    client.post("/logout", data={"csrf_token": csrf_token(client, "/campaigns")})
    auth.login("reviewer")
    assert client.get(f"/campaigns/{cid}/records/reviews.csv").status_code == 403


# --- expected: reviewers see how they compare once locked -----------------------------------

def test_a_reviewer_compares_with_the_panel_once_the_round_is_locked(client, world):
    db = world["db"]
    cid, pairs = _in_review(world)
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    on = {}
    for a in pairs:
        on.setdefault(a["station_id"], []).append(a["reviewer"])
    station = pairs[0]["station_id"]
    harsh, other = on[station]
    for a in pairs:
        score = 6 if a["reviewer"] == harsh else 8
        cp.save_review(db, cid, a["station_id"], {"scores": {k: score for k in keys}, "submit": True},
                       users.get_user(db, a["reviewer"]))
    _login(client, harsh, "review-pass-1")
    early = client.get(f"/campaigns/{cid}/compare", follow_redirects=True)
    assert "名单公示后才能查看" in early.get_data(as_text=True)
    cp.advance_stage(db, cid, "notice", world["admin"], reason="评审完成")
    page = client.get(f"/campaigns/{cid}/compare").get_data(as_text=True)
    assert "我与专家组的对比" in page and "比专家组偏严" in page
    assert "加权总分：我 60.00 / 专家组平均 70.00（2 位评审）" in page
    assert '<td class="num">6 / 7</td>' in page
    mine = cp.reviewer_comparison(db, cid, users.get_user(db, harsh)["id"])
    assert mine["severity"] < 0
    assert cp.reviewer_comparison(db, cid, users.get_user(db, other)["id"])["severity"] > mine["severity"]


# --- expected: an in-app inbox for reviewers and union staff --------------------------------

def test_reviewers_and_union_staff_see_what_waits_for_them(client, world):
    db = world["db"]
    cid, pairs = _in_review(world)
    mine = [a for a in pairs if a["reviewer"] == pairs[0]["reviewer"]]
    keys = [c["key"] for c in cp.default_rubric()["criteria"]]
    cp.save_review(db, cid, mine[0]["station_id"], {"scores": {keys[0]: 5}}, users.get_user(db, mine[0]["reviewer"]))
    _login(client, mine[0]["reviewer"], "review-pass-1")
    page = client.get("/campaigns").get_data(as_text=True)
    assert "我的待办与进展" in page
    assert f"分配给您 {len(mine)} 个站点：已提交 0 个，草稿 1 个，未开始 {len(mine) - 1} 个" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/campaigns")})
    _login(client, "dc", "union-pass-1")
    page = client.get("/campaigns").get_data(as_text=True)
    own = [s for s in world["stations"][:3] if storage_host(db, s) == UNIONS[0]]
    name = db.execute("SELECT name FROM stations WHERE id = ?", [own[0]]).fetchone()[0]
    assert f"“{name}”：综合评议中：0/2 位评审已提交评分" in page
