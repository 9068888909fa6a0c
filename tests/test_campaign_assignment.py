"""The 最美站点 selection's rules, on the core (no web): who reviews which nominee
(automatic assignment, conflicts of interest, balanced loads, manual changes) and blind,
locked reviews.  Each test fails if its rule breaks."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations import storage
from stations.accounts import users
from tests import campaign_support
from tests.campaign_support import UNIONS, _campaign, _to_review

# The shared campaign fixture (tests/campaign_support.py).
world = campaign_support.world


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


def test_uneven_loads_are_the_most_even_possible_not_refused():
    """Issue 17, item 1: conflicts that make loads within one impossible no longer stall
    the campaign; the assignment is the most even possible and says who got fewer."""
    stations = [{"id": i, "host_union": "A"} for i in range(1, 7)] + [{"id": 7, "host_union": "B"}]
    reviewers = [{"id": 10, "username": "a1", "union_name": "A"}, {"id": 11, "username": "a2", "union_name": "A"},
                 {"id": 12, "username": "b1", "union_name": "B"}]
    # six A stations can only go to reviewer 12; the B station to 10 or 11
    plan = cp.plan_assignment(stations, reviewers, 1)
    assert sorted(plan.loads.values()) == [0, 1, 6]
    assert cp.check_assignment(plan.pairs, stations, reviewers, 1) == []
    assert {f["name"] for f in plan.fewer} == {"a1", "a2"} and "利益冲突" in plan.note
    ok = cp.plan_assignment(stations[:1] + [{"id": 8, "host_union": "B"}, {"id": 9, "host_union": None}],
                            reviewers, 1)
    assert cp.check_assignment(ok.pairs, [{"id": 1, "host_union": "A"}, {"id": 8, "host_union": "B"},
                                          {"id": 9, "host_union": None}], reviewers, 1) == []
    assert ok.note == "" and ok.fewer == []


def test_uneven_loads_name_the_reviewer_whose_conflicts_hold_them_back():
    # 4 stations of union A and one of B; 3 outside reviewers and one from A, who may
    # review only the B station: the others take 3 each, chen 1, and the note says why
    stations = [{"id": i, "host_union": "朝阳区总工会"} for i in range(1, 5)] + [{"id": 5, "host_union": "海淀区总工会"}]
    reviewers = [{"id": 10, "username": "li", "union_name": None}, {"id": 11, "username": "wang", "union_name": ""},
                 {"id": 12, "username": "zhao", "union_name": None},
                 {"id": 13, "username": "chen", "union_name": "朝阳区总工会"}]
    plan = cp.plan_assignment(stations, reviewers, 2)
    assert plan.loads == {10: 3, 11: 3, 12: 3, 13: 1}
    assert "chen（朝阳区总工会，评 1 个）" in plan.note and "li（" not in plan.note
    assert "最多 3 个" in plan.note


def test_most_even_loads_match_exhaustive_search():
    """Over small random instances, the plan's sorted loads equal the best of every
    possible assignment (largest load smallest, then the next...)."""
    import itertools
    import random

    rng = random.Random(17)
    for _ in range(40):
        unions = ["A", "B", "C", None]
        stations = [{"id": i, "host_union": rng.choice(unions[:3])} for i in range(4)]
        reviewers = [{"id": 100 + j, "union_name": rng.choice(unions)} for j in range(4)]
        k = rng.choice([1, 2])
        eligible = cp.eligibility(stations, reviewers)
        options = [list(itertools.combinations(list(map(int, row.nonzero()[0])), k)) for row in eligible]
        if any(not o for o in options):
            with pytest.raises(cp.Infeasible):
                cp.plan_assignment(stations, reviewers, k)
            continue
        taking = [j for j in range(4) if eligible[:, j].any()]
        best = None
        for choice in itertools.product(*options):
            loads = [sum(j in c for c in choice) for j in taking]
            key = sorted(loads, reverse=True)
            best = key if best is None or key < best else best
        plan = cp.plan_assignment(stations, reviewers, k)
        assert sorted(plan.loads.values(), reverse=True) == best
        assert cp.check_assignment(plan.pairs, stations, reviewers, k) == []


def test_district_heavy_campaign_assigns_instead_of_stalling(world):
    """The trial's case: 7 of 8 nominees from 东城, 3 reviewers each; 东城's two reviewers
    can review only the eighth.  It is assigned (no 无法分配), as evenly as possible, and
    the log and the organiser's page say who got fewer and why."""
    from tests.conftest import make_station

    db, admin, revs, _, _ = world
    cid = _campaign(db, admin, reviewers_per_station=3)
    ids = [make_station(db, name=f"东城驿站{i}", host_union=UNIONS[0], lon=116.41 + i * 0.001) for i in range(7)]
    ids.append(make_station(db, name="西城驿站", host_union=UNIONS[1], lon=116.36))
    _to_review(db, admin, ids, cid)
    pairs = cp.assign_reviewers(db, cid, admin)
    loads = {}
    for a in pairs:
        loads[a["reviewer"]] = loads.get(a["reviewer"], 0) + 1
    assert len(pairs) == 24 and sorted(loads.values()) == [1, 1, 5, 5, 6, 6]
    dongcheng = sorted(r["username"] for r in revs if r["union_name"] == UNIONS[0])
    event = next(e for e in cp.campaign_log(db, cid) if e["kind"] == "assign")
    assert sorted(f["name"] for f in event["detail"]["fewer"]) == dongcheng
    assert all(f"{name}（{UNIONS[0]}，评 1 个）" in event["reason"] for name in dongcheng)
    assert cp.assignment_note(db, cid) == event["reason"]


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
