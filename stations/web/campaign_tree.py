"""Pages of a campaign run through the union tree: the organiser's 推荐名额 per district, the
district's forwarding page, and the list recommended to the level above."""

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from .. import campaign as core
from ..campaign import tree
from .access import allow
from .db import get_db

bp = Blueprint("campaign_tree", __name__, url_prefix="/campaigns")


def _campaign(campaign_id):
    try:
        return core.get_campaign(get_db(), campaign_id)
    except core.NotFound:
        abort(404)


def _refused(exc: core.CampaignError, back: str):
    if exc.status == 403:
        return render_template("error.html", code=403, message=exc.message), 403
    flash(exc.message)
    return redirect(back)


@bp.post("/<int:campaign_id>/quotas")
@allow("admin")
def quotas(campaign_id):
    """The organiser sets each district union's 推荐名额 (empty: no quota)."""
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#quotas"
    values = {key.removeprefix("quota_"): value.strip() for key, value in request.form.items()
              if key.startswith("quota_")}
    try:
        tree.set_quotas(get_db(), campaign_id, values, g.user)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash("推荐名额已保存。")
    return redirect(back)


@bp.get("/<int:campaign_id>/district")
@allow("admin")
def district(campaign_id):
    """A district's page of a city campaign: its quota, its subtree's nominations, 推荐 buttons."""
    db = get_db()
    campaign = _campaign(campaign_id)
    mine = tree.quota_of(db, campaign_id, g.user)
    if mine is None:
        return render_template("error.html", code=403,
                               message="本工会在此活动中没有推荐名额：请联系活动的组织者"), 403
    nominations = [n for n in tree.visible_nominations(db, campaign_id, g.user)]
    return render_template("campaign/district.html", campaign=campaign, mine=mine, nominations=nominations)


@bp.post("/<int:campaign_id>/district/<int:station_id>")
@allow("admin")
def forward(campaign_id, station_id):
    """Forward one nomination to the organiser's review (or withdraw it), within the quota."""
    back = url_for("campaign_tree.district", campaign_id=campaign_id)
    undo = request.form.get("undo") == "1"
    try:
        done = tree.forward(get_db(), campaign_id, station_id, g.user, undo=undo)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash(f"已{'撤回' if undo else '推荐'}“{done['name']}”（已推荐 {done['count']} / 名额 {done['quota']}）。")
    return redirect(back)


@bp.post("/<int:campaign_id>/recommend")
@allow("admin")
def recommend(campaign_id):
    """The organiser marks the first N winners as recommended to the level above."""
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#recommend"
    try:
        count = tree.recommend(get_db(), campaign_id, request.form.get("count"), g.user)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash(f"已将前 {count} 名标记为推荐上级评选。")
    return redirect(back)


@bp.get("/<int:campaign_id>/recommended.<fmt>")
@allow("admin")
def recommended(campaign_id, fmt):
    """The winners recommended to the level above, as XLSX or CSV (like the award list)."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    db = get_db()
    campaign = _campaign(campaign_id)
    try:
        tree.require_manager(db, campaign, g.user)
        campaign, rows = tree.recommended_rows(db, campaign_id)
    except core.CampaignError as exc:
        return _refused(exc, url_for("campaigns.manage", campaign_id=campaign_id))
    title = tree.recommended_title(db, campaign)
    if fmt == "xlsx":
        body, kind = core.awards_xlsx(campaign, rows, title=title), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = core.awards_csv(campaign, rows), "text/csv; charset=utf-8"
    return Response(body, content_type=kind, headers={
        "Content-Disposition": f"attachment; filename=yizhan-recommended-{campaign_id}.{fmt}"})
