"""Issue 17: what a whole campaign run by its people ran into, one test (or a few) per
defect, each through the pages or the API the organiser, reviewers and unions use."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import users
from tests.campaign_trial_support import (  # noqa: F401  (world is a fixture)
    BODY, _create, _in_review, _scored, bearer, storage_host, world)  # noqa: F401
from tests.conftest import csrf_token


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
