"""Once the round is locked (the list frozen at 公示), a reviewer sees how their scores
compare with the panel's: per station and criterion, and their severity.

Severity is the mean z of their review totals: for each station they reviewed, their
weighted total minus the mean of all counted reviewers' totals for that station, divided
by the standard deviation of all counted review totals in the campaign; averaged over
their stations.  Below 0: stricter than the panel; above 0: more lenient.  Only the
panel's means are shown, never another reviewer's scores.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .errors import CampaignError
from .reviews import submitted_reviews
from .rubric import weighted_total
from .store import get_campaign

__all__ = ["SEVERITY_RULE", "reviewer_comparison"]

SEVERITY_RULE = ("偏严程度（平均 z 分）：对您评审的每个站点，用您的加权总分减去该站全部评审总分的平均，"
                 "再除以本活动全部评审总分的标准差，然后求平均。小于 0 表示比专家组偏严，大于 0 表示偏松。")


def reviewer_comparison(db, campaign_id, reviewer_id) -> dict:
    """The reviewer's scores against the panel's means, per station and criterion, and
    their ``severity``; CampaignError 409 before the round is locked (公示)."""
    campaign = get_campaign(db, campaign_id)
    if campaign["stage"] not in ("notice", "confirmed"):
        raise CampaignError("评审结束、名单公示后才能查看与专家组的对比", "stage", 409)
    rubric = campaign["rubric"]
    keys = [c["key"] for c in rubric["criteria"]]
    reviews = submitted_reviews(db, campaign["id"])
    totals = {}
    by_station = defaultdict(list)
    for r in reviews:
        total = weighted_total(r["scores"], rubric)
        if total is None:
            continue
        totals[r["id"]] = total
        by_station[r["station_id"]].append(r)
    spread = statistics.pstdev(totals.values()) if len(totals) > 1 else 0.0
    names = dict(db.execute("SELECT s.id, s.name FROM stations s JOIN nominations n ON n.station_id = s.id "
                            "WHERE n.campaign_id = ?", [campaign["id"]]).fetchall())
    rows, zs = [], []
    for sid, panel in sorted(by_station.items()):
        mine = next((r for r in panel if r["reviewer_id"] == int(reviewer_id)), None)
        if mine is None:
            continue
        panel_total = statistics.fmean(totals[r["id"]] for r in panel)
        means = {}
        for k in keys:
            given = [float(r["scores"][k]) for r in panel if r["scores"].get(k) is not None]
            means[k] = round(statistics.fmean(given), 2) if given else None
        if spread:
            zs.append((totals[mine["id"]] - panel_total) / spread)
        rows.append({"station_id": sid, "name": names.get(sid, f"#{sid}"), "reviewers": len(panel),
                     "mine": {k: mine["scores"].get(k) for k in keys}, "panel": means,
                     "my_total": round(totals[mine["id"]], 2), "panel_total": round(panel_total, 2)})
    return {"stations": rows, "severity": round(statistics.fmean(zs), 2) if zs else None,
            "rule": SEVERITY_RULE, "criteria": rubric["criteria"]}
