"""Campaigns run by a union, through the tree (DESIGN.md §2b; issue 16, point 6).

- A campaign belongs to its organiser's union (``campaigns.union_id``): only admins whose
  scope holds that union manage it (:func:`require_manager`); its nominations come from
  that union's subtree.
- A city campaign may give each district union a quota of recommendations (推荐名额,
  ``campaign_quotas``): the district's admin forwards at most that many of its subtree's
  nominations (:func:`forward`); when a campaign has quotas, only forwarded nominations go
  on to 综合评议 (the others are set aside when the stage moves).
- After confirmation the organiser marks the first N winners as recommended to the
  level above (the 150 for 全国), exported as its own list.
- Honour titles name the awarding union: 北京市总工会 → "北京市最美…", 朝阳区总工会 →
  "朝阳区最美…", 中华全国总工会 → "全国最美…"; a campaign of no union takes its place
  from its level (municipal: the root union of the tree), never "市级".
"""

from __future__ import annotations

from ..storage import now_iso, write_transaction
from ..unions.scope import Scope, in_scope, scope_of, scope_sql
from .errors import CampaignError, NotFound
from .store import _place, awarder, get_campaign, log_event, parse_int

__all__ = ["can_manage", "require_manager", "awarder", "uses_quotas", "quotas", "quota_choices", "set_quotas",
           "quota_of", "forward", "visible_nominations", "recommend", "recommended_rows", "recommended_title", "above_name",
           "in_campaign_subtree", "campaigns_for"]


def can_manage(db, campaign, user) -> bool:
    """Whether ``user`` manages ``campaign``: an admin whose scope holds its union."""
    return bool(user) and user["role"] == "admin" and in_scope(db, scope_of(db, user), campaign.get("union_id"))


def require_manager(db, campaign, user, what: str = "这样做") -> None:
    """CampaignError 403 unless ``user`` manages ``campaign``."""
    if not user or user["role"] != "admin":
        raise CampaignError(f"只有组织者（管理员）可以{what}", None, 403)
    if not can_manage(db, campaign, user):
        owner = _union_name(db, campaign.get("union_id")) or "未指定工会"
        raise CampaignError(f"活动“{campaign['name']}”由{owner}组织，您的工会不能管理它", None, 403)


def _union_name(db, union_id) -> str | None:
    if union_id is None:
        return None
    row = db.execute("SELECT name FROM unions WHERE id = ?", [union_id]).fetchone()
    return row[0] if row else None


def above_name(db, campaign) -> str:
    """The level a campaign's winners are recommended to, as a title says it."""
    union_id = campaign.get("union_id")
    if union_id is not None:
        row = db.execute("SELECT p.name, p.kind FROM unions u JOIN unions p ON p.id = u.parent_id "
                         "WHERE u.id = ?", [union_id]).fetchone()
        if row:
            return _place(row[0], row[1])
    return "全国" if campaign["level"] != "national" else ""


def in_campaign_subtree(db, campaign, union_id) -> bool:
    """Whether a nomination of ``union_id`` may enter ``campaign`` (its organiser's subtree)."""
    if campaign.get("union_id") is None:
        return True
    return in_scope(db, Scope(campaign["union_id"]), union_id)


# -- quotas ------------------------------------------------------------------------------

def uses_quotas(db, campaign_id) -> bool:
    return db.execute("SELECT 1 FROM campaign_quotas WHERE campaign_id = ? LIMIT 1",
                      [int(campaign_id)]).fetchone() is not None


def _forwarded_under(db, campaign_id, union_id) -> int:
    clause, params = scope_sql(Scope(union_id), "n.union_id")
    return db.execute("SELECT count(*) FROM nominations n WHERE n.campaign_id = ? AND n.forwarded_at IS NOT NULL "
                      "AND n.removed_at IS NULL" + clause, [int(campaign_id), *params]).fetchone()[0]


def quotas(db, campaign_id) -> list[dict]:
    """Each quota: {union_id, name, quota, forwarded}, by union name."""
    rows = db.execute("SELECT q.union_id, u.name, q.quota FROM campaign_quotas q JOIN unions u ON u.id = q.union_id "
                      "WHERE q.campaign_id = ? ORDER BY u.name", [int(campaign_id)]).fetchall()
    return [{"union_id": uid, "name": name, "quota": quota, "forwarded": _forwarded_under(db, campaign_id, uid)}
            for uid, name, quota in rows]


def quota_choices(db, campaign) -> list[dict]:
    """The unions the organiser may give a quota: those right below the organising union
    (for a campaign of no union: right below the top of the tree), with their quota."""
    given = {q["union_id"]: q for q in quotas(db, campaign["id"])}
    if campaign.get("union_id") is not None:
        rows = db.execute("SELECT id, name FROM unions WHERE parent_id = ? ORDER BY name", [campaign["union_id"]])
    else:
        rows = db.execute("SELECT u.id, u.name FROM unions u JOIN unions p ON p.id = u.parent_id "
                          "WHERE p.parent_id IS NULL ORDER BY u.name")
    out = [{"union_id": uid, "name": name, "quota": given.get(uid, {}).get("quota"),
            "forwarded": given.get(uid, {}).get("forwarded", 0)} for uid, name in rows]
    seen = {c["union_id"] for c in out}
    return out + [q for q in given.values() if q["union_id"] not in seen]


def set_quotas(db, campaign_id, values: dict, user) -> list[dict]:
    """Set the 推荐名额 of unions below the organiser: {union_id: quota or None (none)}.

    Only the organiser, only during 基层推荐; a quota below what a union has already
    forwarded is refused (409)."""
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user, "设置推荐名额")
    if campaign["stage"] != "nomination":
        raise CampaignError(f"只能在基层推荐阶段设置推荐名额（现为“{campaign['stage_name']}”）", "stage", 409)
    if not isinstance(values, dict):
        raise CampaignError("推荐名额应是 {工会编号: 名额} 的对象", "quotas")
    clean = {}
    for raw_id, raw_quota in values.items():
        try:
            union_id = int(raw_id)
        except (TypeError, ValueError):
            raise CampaignError(f"工会编号应是整数，收到“{str(raw_id)[:20]}”", "quotas") from None
        name = _union_name(db, union_id)
        if name is None:
            raise CampaignError(f"工会（编号 {union_id}）不存在", "quotas")
        if union_id == campaign.get("union_id") or not in_campaign_subtree(db, campaign, union_id):
            raise CampaignError(f"“{name}”不是本活动组织工会的下级工会，不能分配推荐名额", "quotas")
        clean[union_id] = (None if raw_quota in (None, "") else
                           parse_int(raw_quota, "quotas", f"“{name}”的推荐名额", 0, 10000))
    with write_transaction(db):
        for union_id, quota in clean.items():
            done = _forwarded_under(db, campaign["id"], union_id)
            if quota is not None and quota < done:
                raise CampaignError(f"“{_union_name(db, union_id)}”已推荐 {done} 个站点，名额不能少于 {done}；"
                                    "请该工会先撤回推荐", "quotas", 409)
            if quota is None:
                db.execute("DELETE FROM campaign_quotas WHERE campaign_id = ? AND union_id = ?",
                           [campaign["id"], union_id])
            else:
                db.execute("INSERT INTO campaign_quotas (campaign_id, union_id, quota) VALUES (?, ?, ?) "
                           "ON CONFLICT (campaign_id, union_id) DO UPDATE SET quota = excluded.quota",
                           [campaign["id"], union_id, quota])
        log_event(db, campaign["id"], "quotas", username=user["username"],
                  detail={"quotas": {_union_name(db, u): q for u, q in clean.items()}})
    return quotas(db, campaign["id"])


def quota_of(db, campaign_id, user) -> dict | None:
    """The quota of the user's union in this campaign: {union_id, name, quota, forwarded}."""
    if not user or user["role"] != "admin" or user.get("union_id") is None:
        return None
    row = db.execute("SELECT q.quota, u.name FROM campaign_quotas q JOIN unions u ON u.id = q.union_id "
                     "WHERE q.campaign_id = ? AND q.union_id = ?", [int(campaign_id), user["union_id"]]).fetchone()
    if row is None:
        return None
    return {"union_id": user["union_id"], "name": row[1], "quota": row[0],
            "forwarded": _forwarded_under(db, campaign_id, user["union_id"])}


def forward(db, campaign_id, station_id, user, *, undo: bool = False) -> dict:
    """The district's admin forwards one of its subtree's nominations to the organiser's
    review (``undo``: withdraws it), within its quota.

    CampaignError: 403 when the user's union has no quota here or the nomination lies
    outside its subtree (logged), 409 over the quota or after 基层推荐; NotFound when the
    station is not nominated."""
    campaign = get_campaign(db, campaign_id)
    if not user or user["role"] != "admin":
        raise CampaignError("只有区级组织者（管理员）可以推荐上报", None, 403)
    try:
        station_id = int(station_id)
    except (TypeError, ValueError):
        raise CampaignError("站点编号应是整数", "station_id") from None
    with write_transaction(db):
        stage = db.execute("SELECT stage FROM campaigns WHERE id = ?", [campaign["id"]]).fetchone()[0]
        if stage != "nomination":
            raise CampaignError(f"推荐上报已截止：活动现处于“{campaign['stage_name']}”阶段", "stage", 409)
        row = db.execute("SELECT n.id, n.union_id, n.forwarded_at, s.name FROM nominations n JOIN stations s "
                         "ON s.id = n.station_id WHERE n.campaign_id = ? AND n.station_id = ? "
                         "AND n.removed_at IS NULL", [campaign["id"], station_id]).fetchone()
        if row is None:
            raise NotFound(f"no nomination of station {station_id}")
        nomination_id, union_id, forwarded_at, name = row
        mine = quota_of(db, campaign["id"], user)
        if mine is None or not in_scope(db, Scope(mine["union_id"]), union_id):
            why = (f"本工会（{user.get('union_name') or '未指定工会'}）在此活动中没有推荐名额" if mine is None
                   else f"站点“{name}”不属于{mine['name']}及其下级工会")
            log_event(db, campaign["id"], "refused", username=user["username"], reason=why,
                      detail={"action": "forward", "station_id": station_id})
            refused = CampaignError(why, "station_id", 403)
        else:
            refused = None
        if refused is None:
            if undo:
                if forwarded_at is not None:
                    db.execute("UPDATE nominations SET forwarded_at = NULL, forwarded_by = NULL WHERE id = ?",
                               [nomination_id])
                    log_event(db, campaign["id"], "unforward", username=user["username"],
                              detail={"station_id": station_id, "name": name, "union": mine["name"]})
            elif forwarded_at is None:
                if mine["forwarded"] >= mine["quota"]:
                    raise CampaignError(f"{mine['name']}的推荐名额已用完（已推荐 {mine['forwarded']} / 名额 "
                                        f"{mine['quota']}）：请先撤回一个推荐", "station_id", 409,
                                        detail={"forwarded": mine["forwarded"], "quota": mine["quota"]})
                db.execute("UPDATE nominations SET forwarded_at = ?, forwarded_by = ? WHERE id = ?",
                           [now_iso(), user["username"], nomination_id])
                log_event(db, campaign["id"], "forward", username=user["username"],
                          detail={"station_id": station_id, "name": name, "union": mine["name"]})
    if refused is not None:
        raise refused
    after = quota_of(db, campaign["id"], user)
    stamp = db.execute("SELECT forwarded_at FROM nominations WHERE id = ?", [nomination_id]).fetchone()[0]
    return {"station_id": station_id, "name": name, "forwarded": stamp is not None, "forwarded_at": stamp,
            "count": after["forwarded"], "quota": after["quota"]}


def visible_nominations(db, campaign_id, user) -> list[dict]:
    """The nominations ``user`` may see: a union account its union's (every colleague the
    same ones), an admin those of its scope (a district admin: its subtree's), not
    removed.  Each with its photos' ids."""
    campaign = get_campaign(db, campaign_id)
    if user["role"] == "union":
        clause, params = (" AND n.union_id = ?", [user["union_id"]]) if user.get("union_id") is not None \
            else (" AND 0", [])
    elif user["role"] == "admin":
        clause, params = scope_sql(scope_of(db, user), "n.union_id")
    else:
        raise CampaignError("只有组织者或工会账号可以查看推荐", None, 403)
    rows = list(db.query(
        "SELECT n.id, n.station_id, n.union_id, n.union_name, n.reason, n.nominated_by, n.created_at, "
        "n.forwarded_at, n.forwarded_by, s.name, s.district FROM nominations n JOIN stations s ON s.id = n.station_id "
        "WHERE n.campaign_id = ? AND n.removed_at IS NULL" + clause + " ORDER BY n.id",
        [campaign["id"], *params]))
    photos = {}
    for photo_id, nomination_id in db.execute(
            "SELECT p.id, p.nomination_id FROM nomination_photos p JOIN nominations n ON n.id = p.nomination_id "
            "WHERE n.campaign_id = ? ORDER BY p.id", [campaign["id"]]):
        photos.setdefault(nomination_id, []).append(photo_id)
    for row in rows:
        row["photos"] = photos.get(row["id"], [])
    return rows


def campaigns_for(db, user, rows: list[dict]) -> list[dict]:
    """The campaigns an admin sees in the list: those it manages and those giving its
    union a quota (others' campaigns are not its business); others see ``rows`` as given."""
    if not user or user["role"] != "admin" or scope_of(db, user).everything:
        return rows
    holders = {r[0] for r in db.execute("SELECT campaign_id FROM campaign_quotas WHERE union_id = ?",
                                        [user.get("union_id")])}
    return [r for r in rows if r["id"] in holders or can_manage(db, r, user)]


# -- recommendations to the level above ---------------------------------------------------

def recommend(db, campaign_id, count, user) -> int:
    """Mark the first ``count`` winners (by rank) as recommended to the level above; the
    others not.  Only the organiser, after 确认.  Returns how many are marked."""
    campaign = get_campaign(db, campaign_id)
    require_manager(db, campaign, user, "推荐上级评选")
    if campaign["stage"] != "confirmed":
        raise CampaignError("活动确认后才能向上级推荐", "stage", 409)
    winners = db.execute("SELECT count(*) FROM awards WHERE campaign_id = ?", [campaign["id"]]).fetchone()[0]
    count = parse_int(count, "count", "推荐上级的站点数", 0, max(winners, 0))
    with write_transaction(db):
        db.execute("UPDATE awards SET recommended_at = NULL, recommended_by = NULL WHERE campaign_id = ? "
                   "AND rank > ?", [campaign["id"], count])
        db.execute("UPDATE awards SET recommended_at = coalesce(recommended_at, ?), recommended_by = "
                   "coalesce(recommended_by, ?) WHERE campaign_id = ? AND rank <= ?",
                   [now_iso(), user["username"], campaign["id"], count])
        log_event(db, campaign["id"], "recommend", username=user["username"],
                  detail={"count": count, "to": above_name(db, campaign)})
    return count


def recommended_title(db, campaign) -> str:
    """The recommended list's title: 推荐参评2026年全国最美工会户外劳动者服务站点名单."""
    return f"推荐参评{campaign['year']}年{above_name(db, campaign)}最美工会户外劳动者服务站点名单"


def recommended_rows(db, campaign_id) -> tuple[dict, list[dict]]:
    """(campaign, rows) of the winners recommended to the level above, for exports."""
    campaign = get_campaign(db, campaign_id)
    if campaign["stage"] != "confirmed":
        raise CampaignError("活动确认后才能导出推荐名单", "stage", 409)
    rows = list(db.query("SELECT a.rank, a.station_id, s.name, s.district, s.address, s.host_union, a.total, "
                         "a.subsidy_yuan FROM awards a JOIN stations s ON s.id = a.station_id "
                         "WHERE a.campaign_id = ? AND a.recommended_at IS NOT NULL ORDER BY a.rank",
                         [campaign["id"]]))
    return campaign, rows
