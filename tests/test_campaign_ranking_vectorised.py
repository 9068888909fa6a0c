"""The ranking at national scale is vectorised: it must give exactly what the plain,
one-review-at-a-time definition gives (kept here as the reference), on random campaigns
with ties, missing scores, harsh and lenient reviewers, one-review reviewers, reviews of
withdrawn nominees and 面子工程 candidates; and the live ranking reads the same reviews
from the database as columns."""

import random
from collections import defaultdict

import numpy as np
import pytest

from stations import campaign as cp
from stations.campaign.ranking import (
    LOW_AGREEMENT_SD,
    ReviewColumns,
    aggregate,
    face_project,
    spread,
)
from stations.campaign.reviews import submitted_review_columns, submitted_reviews

# --- the reference: the ranking as first written, one review at a time --------------------

def ref_normalise_by_reviewer(reviews: list[dict]) -> dict:
    if not reviews:
        return {}
    everyone = [r["total"] for r in reviews]
    grand_mean = sum(everyone) / len(everyone)
    grand_sd = spread(everyone)
    by_reviewer = defaultdict(list)
    for r in reviews:
        by_reviewer[r["reviewer_id"]].append(r)
    out = {}
    for own in by_reviewer.values():
        totals = [r["total"] for r in own]
        mean, sd = sum(totals) / len(totals), spread(totals)
        for r in own:
            if len(own) < 2:
                out[r["id"]] = r["total"]
            elif sd == 0:
                out[r["id"]] = r["total"] - mean + grand_mean
            else:
                out[r["id"]] = grand_mean + (r["total"] - mean) / sd * grand_sd
    return out


def _average_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def ref_kendall_w(scores: dict) -> float | None:
    deviations = defaultdict(list)  # station -> deviations of its rank from its reviewer's mid-rank
    for own in scores.values():
        if len(own) < 2:
            continue
        stations = list(own)
        ranks = _average_ranks([own[s] for s in stations])
        middle = (len(stations) + 1) / 2
        for s, rank in zip(stations, ranks):
            deviations[s].append(rank - middle)
    num = den = 0.0
    for devs in deviations.values():
        if len(devs) < 2:
            continue
        num += sum(devs) ** 2
        den += len(devs) * sum(d * d for d in devs)
    if den == 0:
        return None if num == 0 and not any(len(d) >= 2 for d in deviations.values()) else 0.0
    return num / den


def ref_rank_campaign(nominees: list[dict], reviews: list[dict], rubric: dict, *,
                  normalise: bool = False, evidence: dict | None = None) -> dict:
    evidence = evidence or {}
    priority = {i["key"] for c in rubric["criteria"] for i in c["items"] if i["priority"]}
    keys = [c["key"] for c in rubric["criteria"]]
    weights = [(c["key"], float(c["weight"])) for c in rubric["criteria"]]
    scored = []
    for r in reviews:  # weighted_total inlined: this loop runs once per review (25,000 at national scale)
        scores, num, den = r["scores"], 0.0, 0.0
        for key, weight in weights:
            value = scores.get(key)
            if value is not None:
                num += weight * value
                den += weight
        if den:
            scored.append({**r, "total": num / den * 10})
    reviews = scored
    adjusted = ref_normalise_by_reviewer(reviews) if normalise else {r["id"]: r["total"] for r in reviews}
    by_station = defaultdict(list)
    for r in reviews:
        by_station[r["station_id"]].append(r)
    rows = []
    for nominee in nominees:
        sid = nominee["station_id"]
        own = by_station.get(sid, ())
        totals = [adjusted[r["id"]] for r in own]
        total = aggregate(totals)
        sums, counts, ticks = dict.fromkeys(keys, 0.0), dict.fromkeys(keys, 0), defaultdict(int)
        for r in own:
            for key, value in r["scores"].items():
                if value is not None and key in sums:
                    sums[key] += value
                    counts[key] += 1
            for item in set(r["items"]):
                ticks[item] += 1
        criteria = {k: round(sums[k] / counts[k], 2) if counts[k] else None for k in keys}
        ev = evidence.get(sid, {})
        if (ev.get("ledger") or {}).get("kept") and "ledger" in priority:
            ticks["ledger"] = len(own) + 1  # a kept ledger confirms 有服务台账
        confirmed = sorted(i for i, n in ticks.items() if n * 2 > len(own))
        flags = []
        face = face_project(criteria, total, ev) if own else []
        if face:
            flags.append("face_project")
        deviation = spread(totals)
        if len(own) >= 2 and deviation > LOW_AGREEMENT_SD:
            flags.append("low_agreement")
        rows.append({**nominee, "total": None if total is None else round(total, 2),
                     "criteria": criteria, "reviews": len(own),
                     "spread": round(deviation, 2), "flags": flags, "face_reasons": face,
                     "priority_confirmed": len([i for i in confirmed if i in priority]),
                     "items_confirmed": confirmed, "rating": ev.get("rating")})
    rows.sort(key=lambda r: (r["total"] is None, -(r["total"] or 0), -r["priority_confirmed"],
                             -(r["rating"] or 0), r["station_id"]))
    for place, row in enumerate(rows, 1):
        row["rank"] = place if row["total"] is not None else None
    per_reviewer = defaultdict(dict)
    for r in reviews:
        per_reviewer[r["reviewer_id"]][r["station_id"]] = r["total"]
    w = ref_kendall_w(per_reviewer)
    return {"ranking": rows, "agreement": {
        "kendall_w": None if w is None else round(w, 4), "reviewers": len(per_reviewer)}}


# --- random campaigns -------------------------------------------------------------------------

def random_campaign(seed, stations=60, reviewers=12, per_station=5):
    rng = random.Random(seed)
    rubric = cp.default_rubric()
    if seed % 3 == 0:
        rubric["criteria"][1]["weight"] = 0  # a criterion that counts for nothing
    keys = [c["key"] for c in rubric["criteria"]]
    items = [i["key"] for c in rubric["criteria"] for i in c["items"]]
    nominees = [{"station_id": 1000 + s * 7, "name": f"站{s}", "district": "东城区"} for s in range(stations)]
    severity = {r: rng.choice([-2, 0, 0, 1.5]) for r in range(reviewers)}
    reviews, next_id = [], 1
    for n in nominees[:-2]:  # the last two have no review
        how_many = rng.choice([1, 2, per_station, per_station, per_station + 1])
        for reviewer in rng.sample(range(reviewers), how_many):
            quality = rng.choice([5, 6, 7, 8, 9])  # whole numbers: many ties
            scores = {k: max(0, min(10, quality + severity[reviewer] + rng.choice([0, 0, 1, -1]))) for k in keys}
            if rng.random() < 0.1:
                scores.pop(rng.choice(keys))  # a draft-like gap
            if rng.random() < 0.1:  # appearance far above substance
                scores.update(site=10, signage=10, publicity=10, service=3, effect=3)
            reviews.append({"id": next_id, "station_id": n["station_id"], "reviewer_id": f"r{reviewer}",
                            "scores": scores, "items": rng.sample(items, rng.choice([0, 1, 2, 3]))})
            next_id += 1
    reviews.append({"id": next_id, "station_id": 999_999, "reviewer_id": "r0",  # withdrawn nominee
                    "scores": {k: 7 for k in keys}, "items": ["ledger"]})
    reviews.append({"id": next_id + 1, "station_id": nominees[0]["station_id"], "reviewer_id": "lonely",
                    "scores": {k: 4 for k in keys}, "items": []})  # a reviewer with one review
    evidence = {n["station_id"]: {"hours_per_week": rng.choice([20, 50, 168]), "is_24h": rng.random() < 0.2,
                                  "rating": rng.choice([None, 2.0, 4.5]), "rating_count": rng.choice([0, 5]),
                                  "reports_year": rng.choice([0, 0, 3]),
                                  "ledger": {"kept": rng.random() < 0.3}} for n in nominees}
    rng.shuffle(reviews)
    return nominees, reviews, rubric, evidence


@pytest.mark.parametrize("normalise", [False, True], ids=["raw", "z-scores"])
@pytest.mark.parametrize("seed", range(8))
def test_vectorised_ranking_equals_the_reference(seed, normalise):
    nominees, reviews, rubric, evidence = random_campaign(seed)
    want = ref_rank_campaign(nominees, reviews, rubric, normalise=normalise, evidence=evidence)
    got = cp.rank_campaign(nominees, reviews, rubric, normalise=normalise, evidence=evidence)
    assert [r["station_id"] for r in got["ranking"]] == [r["station_id"] for r in want["ranking"]]
    for mine, theirs in zip(got["ranking"], want["ranking"]):
        assert mine.keys() == theirs.keys()
        for field in mine:
            if field in ("total", "spread"):
                assert mine[field] == pytest.approx(theirs[field], abs=0.01), (field, mine["station_id"])
            else:
                assert mine[field] == theirs[field], (field, mine["station_id"])
    assert got["agreement"]["reviewers"] == want["agreement"]["reviewers"]
    assert got["agreement"]["kendall_w"] == pytest.approx(want["agreement"]["kendall_w"], abs=1e-4)
    assert any(r["flags"] for r in got["ranking"]), "the random campaign should flag some station"


def test_columns_give_the_same_ranking_as_dicts():
    nominees, reviews, rubric, evidence = random_campaign(3)
    keys = [c["key"] for c in rubric["criteria"]]
    columns = ReviewColumns.from_dicts(reviews, keys)
    assert cp.rank_campaign(nominees, columns, rubric, evidence=evidence) == \
        cp.rank_campaign(nominees, reviews, rubric, evidence=evidence)


def test_empty_and_unreviewed_campaigns():
    rubric = cp.default_rubric()
    nominees = [{"station_id": 1, "name": "甲"}, {"station_id": 2, "name": "乙"}]
    result = cp.rank_campaign(nominees, [], rubric)
    assert [r["rank"] for r in result["ranking"]] == [None, None]
    assert result["agreement"] == {"kendall_w": None, "reviewers": 0}
    assert cp.rank_campaign([], [], rubric)["ranking"] == []


def test_kendall_w_with_ties_and_partial_reviews_matches_the_reference():
    rng = random.Random(5)
    for _ in range(30):
        scores = {f"r{j}": {s: rng.choice([1, 2, 2, 3]) for s in rng.sample(range(8), rng.randint(1, 8))}
                  for j in range(rng.randint(1, 6))}
        want, got = ref_kendall_w(scores), cp.kendall_w(scores)
        assert (got is None) == (want is None) and (got is None or got == pytest.approx(want)), scores


def test_live_ranking_reads_the_database_as_columns(tmp_path):
    """The columns read from SQLite hold what the reviews hold, and rank the same."""
    import json

    from stations import storage
    from stations.accounts import users
    from stations.storage import now_iso
    from tests.conftest import make_station

    db = storage.connect(tmp_path / "c.db")
    storage.migrate(db)
    nominees, reviews, rubric, _ = random_campaign(4, stations=12, reviewers=6)
    keys = [c["key"] for c in rubric["criteria"]]
    ids = {n["station_id"]: make_station(db, name=n["name"], lon=116.39 + i * 0.001) for i, n in enumerate(nominees)}
    for name in ["org"] + [f"r{j}" for j in range(6)] + ["lonely"]:
        users.add_user(db, name, "pass-word-1", "admin" if name == "org" else "reviewer")
    cid = cp.create_campaign(db, {"name": "列存", "year": 2026, "level": "district", "quota": 3,
                                  "subsidy_yuan": 1000, "reviewers_per_station": 1}, users.get_user(db, "org"))
    stamp = now_iso()
    uid = {u["username"]: u["id"] for u in db.query("SELECT id, username FROM users")}
    with storage.write_transaction(db):
        for n in nominees[1:]:  # the first nominee is withdrawn: its reviews do not count
            db.execute("INSERT INTO nominations (campaign_id, station_id, union_name, nominated_by, reason, "
                       "created_at) VALUES (?, ?, '', 'org', '测试', ?)", [cid, ids[n["station_id"]], stamp])
        for r in reviews:
            if r["station_id"] in ids:
                db.execute("INSERT INTO reviews (campaign_id, station_id, reviewer_id, scores, items, updated_at, "
                           "submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [cid, ids[r["station_id"]], uid[r["reviewer_id"]], json.dumps(r["scores"]),
                            json.dumps(r["items"]), stamp, stamp])
    columns = submitted_review_columns(db, cid, keys)
    dicts = sorted(submitted_reviews(db, cid), key=lambda r: r["id"])
    first = ids[nominees[0]["station_id"]]
    assert len(dicts) == sum(r["station_id"] in ids and r["station_id"] != nominees[0]["station_id"]
                             for r in reviews) and first not in columns.station_ids
    expected = ReviewColumns.from_dicts(dicts, keys)
    assert (columns.ids, columns.station_ids, columns.reviewer_ids, columns.items) == \
        (expected.ids, expected.station_ids, expected.reviewer_ids, expected.items)
    assert columns.scores.shape == expected.scores.shape == (len(dicts), len(keys))
    assert np.array_equal(columns.scores, expected.scores, equal_nan=True)
    listed = [{"station_id": ids[n["station_id"]], "name": n["name"]} for n in nominees[1:]]
    assert cp.rank_campaign(listed, columns, rubric) == cp.rank_campaign(listed, dicts, rubric)
