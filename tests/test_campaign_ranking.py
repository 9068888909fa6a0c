"""The 最美站点 selection's rules, on the core (no web): the ranking on hand-computed
examples (trimmed mean, reviewer z-scores, Kendall's W, ties, the face-project flag and the
rule that states it).  Each test fails if its rule breaks."""

from __future__ import annotations

import pytest

from stations import campaign as cp
from stations.campaign.ranking import FACE_GAP
from tests.campaign_support import _rubric_keys


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


def test_the_face_rule_names_the_campaigns_own_criteria():
    assert "外观（有场地、有标识、有宣传）平均分比实质（有服务、有成效）" in cp.ranking_rules()["face"]
    rubric = cp.default_rubric()
    rubric["criteria"][0]["name"] = "有场所"
    rubric["criteria"] = [c for c in rubric["criteria"] if c["key"] != "publicity"]
    assert "外观（有场所、有标识）平均分比实质（有服务、有成效）" in cp.ranking_rules(None, rubric)["face"]
    rubric["criteria"] = [c for c in rubric["criteria"] if c["key"] not in ("service", "effect")]
    assert "不比较两者的分差" in cp.ranking_rules(None, rubric)["face"]
