"""More pages of the 最美站点 selection, on the same blueprint as ``campaigns``: campaign
settings and cancelling, holds on the ranking, the reading of 优先推荐, the printable notice
and its details, records for the file, a union's photos and withdrawals, and a reviewer's
comparison with the panel, and the 七有 inspection outside any campaign.  Thin views, as in
``campaigns``; ``stations.web`` imports this module before it registers ``campaigns.bp``."""

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for

from .. import campaign as core
from ..accounts.limits import RateLimited
from .access import PUBLIC, allow
from ..storage import StationNotFound, get_station
from .campaigns import _form_review, _hours_in_words, _refused, bp, campaign_or_404, managed_or_403, photo_dir
from .db import get_db
from .ledger import thresholds as ledger_thresholds


@bp.route("/<int:campaign_id>/settings", methods=["GET", "POST"])
@allow("admin")
def settings(campaign_id):
    """Change the campaign's settings (until review starts)."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    campaign = campaign_or_404(campaign_id)
    pool = len(core.reviewers(get_db()))
    if request.method == "POST":
        try:
            changes = core.update_campaign(get_db(), campaign_id, request.form.to_dict(), g.user)
        except core.CampaignError as exc:
            return render_template("campaign/new.html", form=request.form, error=exc, pool=pool,
                                   campaign=campaign), exc.status
        flash(f"已修改 {len(changes)} 项设置。" if changes else "设置没有变化。")
        warning = core.namesake_warning(get_db(), campaign_id)
        if warning:
            flash(warning)
        return redirect(url_for("campaigns.manage", campaign_id=campaign_id))
    form = {k: campaign[k] for k in ("name", "year", "level", "quota", "subsidy_yuan", "reviewers_per_station",
                                     "notice_days", "normalise")}
    form["pass_mark"] = "" if campaign["pass_mark"] is None else f"{campaign['pass_mark']:g}"
    return render_template("campaign/new.html", form=form, error=None, pool=pool, campaign=campaign)


@bp.post("/<int:campaign_id>/archive")
@allow("admin")
def archive(campaign_id):
    """Cancel (archive) the campaign at any stage, with a reason kept in its log."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    back = url_for("campaigns.manage", campaign_id=campaign_id)
    try:
        core.archive_campaign(get_db(), campaign_id, request.form.get("reason", ""), g.user)
    except core.CampaignError as exc:
        return _refused(exc, back + "#archive")
    flash("活动已撤销：不再接受任何操作，活动记录仍保留。")
    return redirect(back)


@bp.post("/<int:campaign_id>/priority-reading")
@allow("admin")
def priority_reading(campaign_id):
    """Choose which facilities items the notice's sentence prefers (before review)."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    back = url_for("campaigns.rubric", campaign_id=campaign_id) + "#reading"
    try:
        core.set_priority_reading(get_db(), campaign_id, request.form.get("reading"), g.user)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash("已改为：" + core.READINGS[request.form.get("reading")] + "。")
    return redirect(back)


@bp.post("/<int:campaign_id>/nominations/<int:station_id>/photos")
@allow("admin", "union")
def nomination_photos(campaign_id, station_id):
    """Add photos to a nomination while nominations are open."""
    back = url_for("campaigns.nominate", campaign_id=campaign_id) + f"#nomination-{station_id}"
    photos = [(f.filename or "", f.read()) for f in request.files.getlist("photos") if f and f.filename]
    limit = current_app.config["YIZHAN_PHOTO_UPLOADS_PER_USER"]
    try:
        done = core.add_photos(get_db(), campaign_id, station_id, photos, g.user, photo_dir=photo_dir(),
                               photo_limit=limit)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, back)
    except RateLimited as exc:
        flash(core.photo_limit_message(limit, exc.retry_after))
        return redirect(back)
    flash(f"已为“{done['name']}”添加 {done['added']} 张照片（共 {done['photos']} 张）。")
    return redirect(back)


@bp.post("/<int:campaign_id>/nominations/<int:station_id>/withdraw")
@allow("admin", "union")
def withdraw(campaign_id, station_id):
    """Withdraw a nomination while nominations are open, with a reason."""
    back = url_for("campaigns.nominate", campaign_id=campaign_id)
    try:
        done = core.withdraw_nomination(get_db(), campaign_id, station_id, request.form.get("reason"), g.user)
    except core.CampaignError as exc:
        return _refused(exc, back + f"#nomination-{station_id}")
    flash(f"已撤回对“{done['name']}”的推荐。")
    return redirect(back)


@bp.get("/<int:campaign_id>/compare")
@allow("reviewer")
def compare(campaign_id):
    """Once the round is locked: the reviewer's scores against the panel's, and their severity."""
    campaign = campaign_or_404(campaign_id)
    try:
        comparison = core.reviewer_comparison(get_db(), campaign_id, g.user["id"])
    except core.CampaignError as exc:
        return _refused(exc, url_for("campaigns.queue", campaign_id=campaign_id))
    return render_template("campaign/compare.html", campaign=campaign, comparison=comparison)


@bp.post("/<int:campaign_id>/hold")
@allow("admin")
def hold(campaign_id):
    """Hold, exclude or release a nominee during review, with a reason (logged)."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    back = url_for("campaigns.ranking", campaign_id=campaign_id, page=request.form.get("page") or None)
    try:
        done = core.set_hold(get_db(), campaign_id, request.form.to_dict(), g.user)
    except core.CampaignError as exc:
        return _refused(exc, back)
    said = {"held": "已暂缓，不占名次，下一名递补", "excluded": "已排除，不占名次，下一名递补", None: "已恢复参评"}
    flash(f"站点“{done['name']}”{said[done['hold']]}。")
    return redirect(back)


@bp.get("/<int:campaign_id>/notice/print")
@allow(PUBLIC)
def printed(campaign_id):
    """The 公示 notice to print and post (no navigation, no form when printed)."""
    try:
        notice = core.printed_notice(get_db(), campaign_id)
    except core.NotFound:
        abort(404)
    return render_template("campaign/printed.html", notice=notice)


@bp.post("/<int:campaign_id>/notice-details")
@allow("admin")
def notice_details(campaign_id):
    """Set the issuing union and where to object, for the printed notice."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#notice-details"
    try:
        core.set_notice_details(get_db(), campaign_id, request.form.to_dict(), g.user)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash("公示信息已保存。")
    return redirect(back)


@bp.get("/<int:campaign_id>/records/<kind>.<fmt>")
@allow("admin")
def records(campaign_id, kind, fmt):
    """Every review, or the ranking (flags, tie-break, holds, removals), as XLSX or CSV."""
    managed_or_403(campaign_id)  # only an organiser whose part of the union tree holds it
    if fmt not in ("xlsx", "csv") or kind not in core.RECORDS:
        abort(404)
    campaign = campaign_or_404(campaign_id)
    try:
        if kind == "reviews":
            campaign, rows = core.review_records(get_db(), campaign_id)
        else:
            result = campaign["ranking"] or core.live_ranking(get_db(), campaign, thresholds=ledger_thresholds())
            campaign, rows = core.ranking_records(get_db(), campaign_id, result)
    except core.CampaignError as exc:
        return _refused(exc, url_for("campaigns.manage", campaign_id=campaign_id))
    if fmt == "xlsx":
        body = core.records_xlsx(campaign, kind, rows)
        kind_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind_type = core.records_csv(campaign, kind, rows), "text/csv; charset=utf-8"
    response = Response(body, content_type=kind_type, headers={
        "Content-Disposition": f"attachment; filename=yizhan-{kind}-{campaign_id}.{fmt}"})
    response.cache_control.private = True
    return response


@bp.route("/inspect/<int:station_id>", methods=["GET", "POST"])
@allow("admin", "reviewer")
def inspect(station_id):
    """Inspect one station with the 七有 form (日常检查 or 验收), outside any campaign."""
    db = get_db()
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        abort(404)
    rubric = core.default_rubric()
    error, values = None, None
    if request.method == "POST":
        values = _form_review(request.form, rubric, True)
        values["kind"] = request.form.get("kind")
        try:
            core.inspect_station(db, station_id, values, g.user, rubric=rubric)
        except core.CampaignError as exc:
            error = exc
        else:
            flash("检查结果已记入站点档案。")
            return redirect(url_for("directory.detail", station_id=station_id) + "#qiyou")
    evidence = core.evidence_of_use(db, [station_id])[station_id]
    return render_template("campaign/inspect.html", station=_hours_in_words(station), rubric=rubric, values=values, error=error,
                           kinds=core.INSPECTION_KINDS, evidence=evidence,
                           ledger_facts=evidence["ledger"]), (400 if error else 200)
