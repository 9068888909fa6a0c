"""A nominee's host union changes during 综合评议: no reviewer goes on reviewing a station
of their own union, whichever way the station was changed, and the log says what was done."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from stations import campaign as cp
from stations import storage
from stations.accounts import users
from stations.registry.importer import import_file
from tests.conftest import PASSWORDS, csrf_token, make_station

A, B, C = "东城区总工会", "西城区总工会", "海淀区总工会"
ADMIN = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORDS['admin']}".encode()).decode()}
KEYS = ["site", "signage", "facilities", "publicity", "service", "rules", "effect"]


@pytest.fixture
def world(app, fresh_db):
    """Reviewers: ``reviewer`` (海淀, from conftest), ra (东城), rb1 and rb2 (西城).
    Four nominees, two reviewers each: 驿站0 (东城), 驿站1 (西城), 驿站2 (海淀), 驿站3 (东城)."""
    db = fresh_db
    users.add_user(db, "ra", "review-pass-1", "reviewer", A, create_union=True)
    users.add_user(db, "rb1", "review-pass-1", "reviewer", B, create_union=True)
    users.add_user(db, "rb2", "review-pass-1", "reviewer", B, create_union=True)
    stations = [make_station(db, name=f"驿站{i}", host_union=union, lon=116.30 + i * 0.02)
                for i, union in enumerate([A, B, C, A])]
    admin = users.get_user(db, "admin")
    cid = cp.create_campaign(db, {"name": "2021年北京市最美站点", "year": 2021, "level": "municipal",
                                  "quota": 2, "subsidy_yuan": 0, "reviewers_per_station": 2}, admin)
    for sid in stations:
        cp.nominate(db, cid, {"station_id": sid, "reason": "服务好，骑手常来。"}, admin)
    cp.advance_stage(db, cid, "review", admin, reason="推荐截止")
    cp.assign_reviewers(db, cid, admin)
    return {"db": db, "cid": cid, "stations": stations, "admin": admin}


def _on(db, cid, sid, *, held=False):
    """Usernames on a station: in force, or held."""
    return sorted(a["reviewer"] for a in cp.list_assignments(db, cid)
                  if a["station_id"] == sid and (a["state"] == "held") == held)


def _loads(db, cid):
    counts = {r["username"]: 0 for r in cp.reviewers(db)}
    for a in cp.list_assignments(db, cid):
        if a["state"] != "held":
            counts[a["reviewer"]] += 1
    return counts


def _union(db, name):
    return users.get_user(db, name)["union_name"]


def _submit(db, cid, sid, reviewer, score):
    cp.save_review(db, cid, sid, {"scores": {k: score for k in KEYS}, "submit": True}, users.get_user(db, reviewer))


def _moved_to_a_union_of_its_reviewers(world):
    """The station of 海淀 (驿站2) and which of its reviewers the change to their union hits."""
    db, cid = world["db"], world["cid"]
    sid = world["stations"][2]
    on = _on(db, cid, sid)
    hit = next(r for r in on if _union(db, r) in (A, B))
    return sid, hit, _union(db, hit)


def _edit_on_the_form(client, db, sid, host_union):
    station = storage.get_station(db, sid, private=True)
    form = {"name": station["name"], "address": station["address"], "district": "", "subdistrict": "",
            "lon": str(station["lon"]), "lat": str(station["lat"]), "datum": "wgs84", "host_union": host_union,
            "station_type": station["station_type"], "hours": "周一至周日 08:00-20:00",
            "facilities": station["facilities"], "status": station["status"], "manager": station["manager"],
            "manager_phone": station["manager_phone"], "note": ""}
    form["csrf_token"] = csrf_token(client, f"/admin/stations/{sid}/edit")
    return client.post(f"/admin/stations/{sid}/edit", data=form)


def _check_moved(world, sid, hit, new_union, loads_before):
    """The conflicted reviewer is off the station, replaced by the least-loaded eligible
    reviewer not on it yet; the station keeps two reviewers, none of its new union."""
    db, cid = world["db"], world["cid"]
    on = _on(db, cid, sid)
    assert hit not in on and len(on) == 2, on
    assert not any(_union(db, r) == new_union for r in on)
    (taker,) = set(on) - set(loads_before["on"])
    eligible = [r for r, n in loads_before["loads"].items()
                if _union(db, r) != new_union and r not in loads_before["on"]]
    assert loads_before["loads"][taker] == min(loads_before["loads"][r] for r in eligible)
    return taker


def _before(db, cid, sid):
    return {"on": _on(db, cid, sid), "loads": _loads(db, cid)}


def test_a_host_union_change_on_the_admin_form_moves_the_conflicted_reviewer_and_logs_it(world, client, auth):
    db, cid = world["db"], world["cid"]
    sid, hit, new_union = _moved_to_a_union_of_its_reviewers(world)
    # of the reviewers who could take over, make the last one the least loaded
    free = [r["username"] for r in cp.reviewers(db) if r["union_name"] != new_union and r["username"] not in _on(db, cid, sid)]
    assert len(free) >= 2
    lightest = free[-1]
    db.execute("DELETE FROM assignments WHERE campaign_id = ? AND reviewer_id = ? AND station_id != ? "
               "AND rowid = (SELECT min(rowid) FROM assignments WHERE campaign_id = ? AND reviewer_id = ? "
               "AND station_id != ?)", [cid, users.get_user(db, lightest)["id"], sid] * 2)
    db.conn.commit()
    before = _before(db, cid, sid)
    # a change that keeps the union (spacing only) or another field moves no one, logs nothing
    storage.update_station(db, sid, {"host_union": f" {C} "}, username="admin")
    storage.update_station(db, sid, {"name": "驿站2"}, username="admin")
    assert _before(db, cid, sid) == before
    assert [e for e in cp.campaign_log(db, cid) if e["kind"] in ("conflict", "union_change")] == []
    auth.login("admin")
    assert _edit_on_the_form(client, db, sid, new_union).status_code == 302
    assert storage.get_station(db, sid)["host_union"] == new_union
    taker = _check_moved(world, sid, hit, new_union, before)
    assert taker == lightest
    # the organiser reads it in the campaign's log: station, reviewer, both unions, what was done
    page = client.get(f"/campaigns/{cid}/manage").get_data(as_text=True)
    line = next(li for li in page.split("<li>") if "利益冲突" in li and hit in li)
    assert "驿站2" in line and f"“{C}”改为“{new_union}”" in line and f"已改由 {taker} 评审" in line
    assert "admin：" in line  # who made the change
    # the nomination's union followed the station
    assert next(n for n in cp.active_nominations(db, cid) if n["station_id"] == sid)["union_name"] == new_union
    # the reviewer taken off can no longer review it; the one put on can
    with pytest.raises(cp.CampaignError) as off:
        _submit(db, cid, sid, hit, 9)
    assert off.value.status == 403
    _submit(db, cid, sid, taker, 9)


def test_a_host_union_change_through_the_api_sets_aside_a_submitted_score(world, client):
    db, cid = world["db"], world["cid"]
    sid, hit, new_union = _moved_to_a_union_of_its_reviewers(world)
    for reviewer in _on(db, cid, sid):
        _submit(db, cid, sid, reviewer, 2 if reviewer == hit else 8)
    ranked = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert ranked[sid]["reviews"] == 2 and ranked[sid]["total"] == 50.0
    before = _before(db, cid, sid)
    answer = client.patch(f"/api/v1/stations/{sid}", json={"host_union": new_union}, headers=ADMIN)
    assert answer.status_code == 200, answer.get_json()
    taker = _check_moved(world, sid, hit, new_union, before)
    # the conflicted reviewer's 2s no longer count: only the other reviewer's 8s
    ranked = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert ranked[sid]["reviews"] == 1 and ranked[sid]["total"] == 80.0
    # and the review now owed is the new reviewer's
    owed = [a for a in cp.list_assignments(db, cid) if a["state"] != "submitted"]
    assert [(a["station_id"], a["reviewer"]) for a in owed if a["station_id"] == sid] == [(sid, taker)]
    (event,) = [e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict"]
    assert event["username"] == "admin" and event["detail"]["reviewer"] == hit
    assert (event["detail"]["from_union"], event["detail"]["to_union"]) == (C, new_union)
    assert event["detail"]["action"] == "moved" and event["detail"]["to"] == taker
    assert event["detail"]["review"] == "submitted" and f"{hit} 已提交的评分不计入排名" in event["reason"]


def test_a_put_that_changes_the_union_moves_the_conflicted_reviewer(world, client):
    db, cid = world["db"], world["cid"]
    sid, hit, new_union = _moved_to_a_union_of_its_reviewers(world)
    before = _before(db, cid, sid)
    feature = client.get(f"/api/v1/stations/{sid}", headers=ADMIN).get_json()
    props = {k: v for k, v in feature["properties"].items() if k in (
        "name", "address", "station_type", "hours", "facilities", "status")}
    lon, lat = feature["geometry"]["coordinates"]
    answer = client.put(f"/api/v1/stations/{sid}", json={**props, "lon": lon, "lat": lat, "host_union": new_union},
                        headers=ADMIN)
    assert answer.status_code == 200, answer.get_json()
    taker = _check_moved(world, sid, hit, new_union, before)
    (event,) = [e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict"]
    assert (event["detail"]["reviewer"], event["detail"]["action"], event["detail"]["to"]) == (hit, "moved", taker)


def test_with_no_one_free_to_take_over_the_assignment_is_held_until_the_organiser_hands_it_on(world):
    """驿站2 (海淀) has three reviewers: ra (东城), rb1 and rb2 (西城).  It becomes 西城's:
    rb1 goes to the one reviewer free (``reviewer``, 海淀); for rb2 no one is left, so rb2's
    assignment is held and rb2's submitted score set aside.  A new reviewer then takes it."""
    db, cid = world["db"], world["cid"]
    admin = world["admin"]
    sid = world["stations"][2]
    missing = [n for n in ("rb1", "rb2") if n not in _on(db, cid, sid)]
    for name in missing:  # a third reviewer on it, as if the organiser had asked for three
        db.execute("INSERT INTO assignments (campaign_id, station_id, reviewer_id, assigned_at) VALUES (?, ?, ?, ?)",
                   [cid, sid, users.get_user(db, name)["id"], storage.now_iso()])
    db.conn.commit()
    assert _on(db, cid, sid) == ["ra", "rb1", "rb2"]
    _submit(db, cid, sid, "rb2", 3)
    storage.update_station(db, sid, {"host_union": B}, username="org2")
    assert _on(db, cid, sid) == ["ra", "reviewer"] and _on(db, cid, sid, held=True) == ["rb2"]
    events = {e["detail"]["reviewer"]: e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict"}
    assert events["rb1"]["detail"]["action"] == "moved" and "已改由 reviewer 评审" in events["rb1"]["reason"]
    held = events["rb2"]
    assert held["username"] == "org2" and held["detail"]["action"] == "held"
    assert "没有可接替的评审" in held["reason"] and "已暂停" in held["reason"]
    assert "rb2 已提交的评分不计入排名" in held["reason"] and f"“{C}”改为“{B}”" in held["reason"]
    # held: rb2 cannot review it, does not see it, it is still owed, and the 3s count nowhere
    with pytest.raises(cp.CampaignError) as refused:
        _submit(db, cid, sid, "rb2", 9)
    assert refused.value.status == 409 and "利益冲突" in refused.value.message
    assert sid not in [a["station_id"] for a in cp.reviewer_queue(db, cid, users.get_user(db, "rb2")["id"])]
    assert cp.missing_reviews(db, cid) == 9  # nothing counted is submitted: 4 × 2 + the third on 驿站2
    ranked = {r["station_id"]: r for r in cp.live_ranking(db, cp.get_campaign(db, cid))["ranking"]}
    assert ranked[sid]["reviews"] == 0
    # the organiser hands it to a new reviewer of another union
    users.add_user(db, "rc", "review-pass-1", "reviewer", C, create_union=True)
    cp.reassign(db, cid, {"station_id": sid, "from_reviewer": "rb2", "to_reviewer": "rc"}, admin)
    assert _on(db, cid, sid, held=True) == [] and _on(db, cid, sid) == ["ra", "rc", "reviewer"]
    _submit(db, cid, sid, "rc", 7)


def test_an_import_updating_a_station_by_id_rechecks_too(world):
    db, cid = world["db"], world["cid"]
    sid, hit, new_union = _moved_to_a_union_of_its_reviewers(world)
    station = storage.get_station(db, sid)
    csv = ("id,名称,地址,经度,纬度,所属工会\n"
           f"{sid},{station['name']},{station['address']},{station['lon']},{station['lat']},{new_union}\n")
    report = import_file(db, csv.encode(), "更新.csv", username="importer")
    assert report.written == 1, report.row_errors if hasattr(report, "row_errors") else report
    assert hit not in _on(db, cid, sid) and len(_on(db, cid, sid)) == 2
    (event,) = [e for e in cp.campaign_log(db, cid) if e["kind"] == "conflict"]
    assert event["username"] == "importer" and event["detail"]["reviewer"] == hit


def test_a_process_that_never_loaded_the_campaign_still_rechecks(world, db_path):
    """An import job runs in a process of its own that imports storage and the importer only:
    the re-check still happens there."""
    db, cid = world["db"], world["cid"]
    sid, hit, new_union = _moved_to_a_union_of_its_reviewers(world)
    script = ("import sys\nfrom stations import storage\n"
              "assert 'stations.campaign' not in sys.modules\n"
              "db = storage.connect(sys.argv[1])\n"
              "storage.update_station(db, int(sys.argv[2]), {'host_union': sys.argv[3]}, username='job')\n")
    subprocess.run([sys.executable, "-c", script, str(db_path), str(sid), new_union], check=True, timeout=120)
    assert hit not in _on(db, cid, sid)
    assert [e["detail"]["reviewer"] for e in cp.campaign_log(db, cid) if e["kind"] == "conflict"] == [hit]
