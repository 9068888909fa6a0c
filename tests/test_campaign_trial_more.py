"""Issue 17, continued: photos and withdrawals, radar labels, the expected items (progress,
pass mark, printable notice, search, records, comparison, inbox)."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.accounts import users
from tests.campaign_trial_support import (  # noqa: F401  (world is a fixture)
    BODY, UNIONS, _in_review, _jpeg, _labels_outside, _login, _scored, bearer, storage_host, world)  # noqa: F401
from tests.conftest import csrf_token, make_station


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
