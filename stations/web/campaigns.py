"""Pages of the 最美站点 selection: organiser, grassroots union, reviewer, and the public notice."""

import re
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request,
                   send_file, url_for)

from .. import campaign as core
from ..campaign import tree
from ..campaign.ranking import TRIM_FROM
from ..campaign.reviews import SCORE_RULE
from ..campaign.store import today as beijing_today, typed_number
from ..riders.directory import public_station
from ..accounts.limits import RateLimited
from ..registry.records import FACILITIES
from .access import PUBLIC, allow, client_id
from .db import get_db
from .ledger import thresholds as ledger_thresholds

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
PAGE_ROWS = 50


def photo_dir() -> Path:
    """Photos live in the instance folder beside the database, never in git."""
    return Path(current_app.config["YIZHAN_DB"]).resolve().parent / "campaign_photos"


def campaign_or_404(campaign_id):
    try:
        return core.get_campaign(get_db(), campaign_id)
    except core.NotFound:
        abort(404)


def managed_or_403(campaign_id):
    """The campaign, if the signed-in admin manages it (its union's scope holds it); else 403."""
    campaign = campaign_or_404(campaign_id)
    if not tree.can_manage(get_db(), campaign, g.user):
        abort(403)
    return campaign


def _refused(exc: core.CampaignError, back: str):
    """A refused action: flash its Chinese reason and go back (a forged request gets its 403)."""
    if exc.status == 403:
        return render_template("error.html", code=403, message=exc.message), 403
    flash(exc.message)
    return redirect(back)


@bp.context_processor
def _score_rule():
    """The one rule for typed scores, stated on the review and inspection forms."""
    return {"score_rule": SCORE_RULE}


@bp.app_template_global()
def latest_qiyou(station_id):
    """The station's latest 七有 checklist with its radar chart (for the station page)."""
    checklist = core.latest_checklist(get_db(), station_id)
    if checklist is None:
        return None
    names = {c["key"]: c for c in checklist["rubric"]["criteria"]}
    scores = {k: v["score"] for k, v in checklist["criteria"].items()}
    items = core.item_names(checklist["rubric"])
    campaign = _campaign(checklist["campaign_id"]) or {}
    return {**checklist, "svg": core.radar_svg(list(names.values()), scores, title="七有"),
            "met": {k: [items.get(i, i) for i in v["items_met"]] for k, v in checklist["criteria"].items()},
            "names": {k: c["name"] for k, c in names.items()},
            "kind_name": core.INSPECTION_KINDS.get(checklist["kind"] or "", ""),
            "campaign_name": campaign.get("name"), "normalised": campaign.get("normalise"), "trim_from": TRIM_FROM}


def _campaign(campaign_id):
    if campaign_id is None:
        return None
    try:
        return core.get_campaign(get_db(), campaign_id)
    except core.NotFound:
        return None


@bp.get("")
@allow(PUBLIC)
def index():
    """Campaigns: the public sees published lists; signed-in users see their work."""
    user, db = g.get("user"), get_db()
    stages = None if user and user["role"] in ("admin", "reviewer", "union") else ("notice", "confirmed")
    archived = bool(user and user["role"] == "admin")  # the organiser still finds cancelled ones
    campaigns = tree.campaigns_for(db, user, core.list_campaigns(db, stages, archived=archived))
    managed = {c["id"] for c in campaigns if tree.can_manage(db, c, user)}
    quotas = {c["id"]: tree.quota_of(db, c["id"], user) for c in campaigns} if user else {}
    waiting = core.inbox(db, user) if user and user["role"] in ("reviewer", "union") else []
    return render_template("campaign/index.html", campaigns=campaigns, levels=core.LEVELS, managed=managed,
                           quotas=quotas, inbox=waiting)


@bp.route("/new", methods=["GET", "POST"])
@allow("admin")
def new():
    """Create a campaign (organiser)."""
    pool = len(core.reviewers(get_db()))  # the form says how many reviewers there are to assign
    if request.method == "POST":
        try:
            campaign_id = core.create_campaign(get_db(), request.form.to_dict(), g.user)
        except core.CampaignError as exc:
            return render_template("campaign/new.html", form=request.form, error=exc, pool=pool), 400
        flash("已创建活动，评审标准为七有，可在推荐阶段修改。")
        warning = core.namesake_warning(get_db(), campaign_id)
        if warning:
            flash(warning)
        return redirect(url_for("campaigns.manage", campaign_id=campaign_id))
    return render_template("campaign/new.html", form={"notice_days": 7, "reviewers_per_station": min(5, max(pool, 1)),
                                                      "level": "municipal"}, error=None, pool=pool)


@bp.get("/<int:campaign_id>/manage")
@allow("admin")
def manage(campaign_id):
    """The organiser's desk for one campaign: stage, nominations, assignments, objections, log."""
    return _manage_page(campaign_id, request.args.get("station", type=int))


def _manage_page(campaign_id, station_id=None, error=None, form=None, status=200):
    """The desk; with ``station_id`` the reassign form offers only the reviewers who may
    take that station (``error`` and ``form``: a refused change, its choices kept)."""
    db = get_db()
    campaign = managed_or_403(campaign_id)
    assignments = core.list_assignments(db, campaign_id)
    by_station = {}
    for a in assignments:
        by_station.setdefault(a["station_id"], []).append(a)
    choices = core.reassign_choices(db, campaign_id, station_id) if station_id else None
    return render_template(
        "campaign/manage.html", campaign=campaign, log=core.campaign_log(db, campaign_id),
        nominations=core.active_nominations(db, campaign_id), by_station=by_station,
        photos=core.nomination_photos(db, campaign_id), missing=core.missing_reviews(db, campaign_id),
        objections=core.list_objections(db, campaign_id), reviewers=core.reviewers(db),
        next_stage=_next_stage(campaign), quotas=tree.quota_choices(db, campaign),
        uses_quotas=tree.uses_quotas(db, campaign_id), above=tree.above_name(db, campaign),
        recommended=db.execute("SELECT count(*) FROM awards WHERE campaign_id = ? AND recommended_at IS NOT NULL",
                               [campaign_id]).fetchone()[0],
        today=beijing_today().isoformat(), choices=choices,
        progress=core.reviewer_progress(db, campaign_id) if campaign["stage"] != "nomination" else [],
        reassign_error=error, reassign_form=form or {}), status


def _next_stage(campaign):
    if campaign["archived"]:
        return None
    at = core.STAGES.index(campaign["stage"])
    return core.STAGES[at + 1] if at + 1 < len(core.STAGES) else None


@bp.post("/<int:campaign_id>/stage")
@allow("admin")
def stage(campaign_id):
    """Move to the next stage (with a reason; forced when allowed)."""
    back = url_for("campaigns.manage", campaign_id=campaign_id)
    try:
        moved = core.advance_stage(get_db(), campaign_id, request.form.get("stage"), g.user,
                                   reason=request.form.get("reason", ""), force=bool(request.form.get("force")),
                                   thresholds=ledger_thresholds(), notice_start=request.form.get("notice_start"),
                                   notice_workdays=bool(request.form.get("notice_workdays")))
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash(f"活动已进入“{moved['stage_name']}”阶段。")
    return redirect(back)


@bp.post("/<int:campaign_id>/normalise")
@allow("admin")
def normalise(campaign_id):
    """Turn per-reviewer normalisation on or off (until the list goes to notice)."""
    back = url_for("campaigns.ranking", campaign_id=campaign_id)
    try:
        core.set_normalise(get_db(), campaign_id, request.form.get("normalise") == "1", g.user)
    except core.CampaignError as exc:
        return _refused(exc, back)
    return redirect(back)


def _rubric_from_form(form, old):
    criteria = []
    for i, c in enumerate(old["criteria"]):
        if form.get(f"c{i}_remove"):
            continue
        criteria.append(_criterion(c["key"], form.get(f"c{i}_name"), form.get(f"c{i}_weight"),
                                   form.get(f"c{i}_items", ""), c["items"]))
    if (form.get("new_name") or "").strip():
        used = {c["key"] for c in old["criteria"]}
        key = next(f"c{n}" for n in range(1, 100) if f"c{n}" not in used)
        criteria.append(_criterion(key, form.get("new_name"), form.get("new_weight") or "1",
                                   form.get("new_items", ""), []))
    return {"name": form.get("name") or old["name"], "criteria": criteria}


def _criterion(key, name, weight, lines, old_items):
    by_name = {i["name"]: i["key"] for i in old_items}
    items, used = [], set(by_name.values())
    for n, line in enumerate(x.strip() for x in lines.splitlines()):
        if not line:
            continue
        priority = line.startswith("*")
        label = line.lstrip("*").strip()
        item_key = by_name.get(label)
        if item_key is None:
            item_key = next(f"{key}_{m}" for m in range(n + 1, n + 200) if f"{key}_{m}" not in used)
            used.add(item_key)
        items.append({"key": item_key, "name": label, "priority": priority})
    try:
        weight = typed_number(weight)  # "1,5" is 1.5
    except (TypeError, ValueError):
        weight = -1  # validate_rubric names the field
    return {"key": key, "name": name, "weight": weight, "items": items}


@bp.route("/<int:campaign_id>/rubric", methods=["GET", "POST"])
@allow("admin")
def rubric(campaign_id):
    """Rename, add or remove criteria and items, change weights (before review)."""
    campaign = managed_or_403(campaign_id)
    if request.method == "POST":
        draft = _rubric_from_form(request.form, campaign["rubric"])
        try:
            core.set_rubric(get_db(), campaign_id, draft, g.user)
        except core.CampaignError as exc:
            # The organiser's edits stay in the form; the message names the criterion by
            # its name, not by the API's field path.
            return render_template("campaign/rubric.html", campaign=campaign, error=exc, readings=core.READINGS,
                                   reading=core.priority_reading(campaign["rubric"]),
                                   where=_criterion_named(exc.field, draft), form=request.form), exc.status
        flash("评审标准已保存。")
        return redirect(url_for("campaigns.manage", campaign_id=campaign_id))
    return render_template("campaign/rubric.html", campaign=campaign, error=None, where="", form={},
                           readings=core.READINGS, reading=core.priority_reading(campaign["rubric"]))


def _criterion_named(field, draft):
    """``rubric.criteria[2].weight`` → 标准“有设施”的权重 (the page's words for a field)."""
    m = re.match(r"rubric\.criteria\[(\d+)\](?:\.(\w+))?", field or "")
    if not m or int(m.group(1)) >= len(draft["criteria"]):
        return ""
    part = {"weight": "权重", "name": "名称", "items": "细项"}.get(m.group(2), "细项" if m.group(2) else "")
    return f"标准“{draft['criteria'][int(m.group(1))]['name'] or '（未命名）'}”的{part}".rstrip("的")


@bp.route("/<int:campaign_id>/nominate", methods=["GET", "POST"])
@allow("admin", "union")
def nominate(campaign_id):
    """Nominate a station with a reason and up to six photos."""
    campaign = campaign_or_404(campaign_id)
    db = get_db()
    choices = core.union_stations(db, g.user) if g.user["role"] == "union" else None
    error, headers, photos = None, {}, []
    if request.method == "POST":
        photos = [(f.filename or "", f.read()) for f in request.files.getlist("photos") if f and f.filename]
        limit = current_app.config["YIZHAN_PHOTO_UPLOADS_PER_USER"]
        try:
            made = core.nominate(db, campaign_id, request.form.to_dict(), g.user, photos=photos,
                                 photo_dir=photo_dir(), photo_limit=limit)
        except core.CampaignError as exc:
            if exc.status == 403:
                return render_template("error.html", code=403, message=exc.message), 403
            error = exc
        except RateLimited as exc:  # what was typed stays in the form
            error = core.CampaignError(core.photo_limit_message(limit, exc.retry_after), "photos", 429)
            headers = {"Retry-After": str(exc.retry_after)}
        else:
            flash(f"已推荐“{made['name']}”（{made['photos']} 张照片）。")
            return redirect(url_for("campaigns.nominate", campaign_id=campaign_id))
    return _nominate_page(campaign, choices, error, request.form, [name for name, _ in photos]), \
        (error.status if error else 200), headers


def _nominate_page(campaign, choices=None, error=None, form=None, lost_photos=()):
    """The nomination page: the form, and the union's nominations with where each stands,
    their photos, adding photos and withdrawing (``lost_photos``: the names of photos a
    refused form could not keep, which the page names)."""
    db = get_db()
    q = request.args.get("q", "")
    return render_template("campaign/nominate.html", campaign=campaign, choices=choices, error=error,
                           form=form or {}, lost_photos=list(lost_photos) if error else [], q=q,
                           found=core.find_nominees(db, campaign["id"], g.user, q) if q.strip() else None,
                           mine=core.union_nominations(db, campaign["id"], g.user),
                           photos=core.nomination_photos(db, campaign["id"]), max_photos=core.MAX_PHOTOS)


@bp.get("/<int:campaign_id>/photos/<int:photo_id>")
@allow("admin", "reviewer", "union")
def photo(campaign_id, photo_id):
    """One nomination photo (re-encoded, without EXIF)."""
    try:
        path, kind = core.photo_file(get_db(), campaign_id, photo_id, photo_dir(), user=g.user)
    except core.NotFound:
        abort(404)
    response = send_file(path, mimetype=kind, max_age=3600)
    # Only signed-in users (and only some of them) may see it: the browser may keep it,
    # a shared cache (a proxy, a CDN) must not hand it to anyone else.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


@bp.post("/<int:campaign_id>/assign")
@allow("admin")
def assign(campaign_id):
    """Assign reviewers to every nominee in one go."""
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#assignments"
    try:
        pairs = core.assign_reviewers(get_db(), campaign_id, g.user)
    except core.CampaignError as exc:
        return _refused(exc, back)
    note = core.assignment_note(get_db(), campaign_id)
    flash(f"已分配 {len(pairs)} 份评审任务。" + (f"{note}。" if note else ""))
    return redirect(back)


@bp.post("/<int:campaign_id>/reassign")
@allow("admin")
def reassign(campaign_id):
    """Replace one reviewer of a station (optionally swapping a station back)."""
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#assignments"
    try:
        core.reassign(get_db(), campaign_id, request.form.to_dict(), g.user)
    except core.CampaignError as exc:  # refused on the page, the choices kept (a forged one is still logged)
        return _manage_page(campaign_id, request.form.get("station_id", type=int), exc, request.form, exc.status)
    flash("已调整评审。")
    return redirect(back)


@bp.get("/<int:campaign_id>/queue")
@allow("reviewer")
def queue(campaign_id):
    """The reviewer's stations to score."""
    campaign = campaign_or_404(campaign_id)
    return render_template("campaign/queue.html", campaign=campaign,
                           queue=core.reviewer_queue(get_db(), campaign_id, g.user["id"]))


def _form_review(form, rubric, submit):
    keys = [c["key"] for c in rubric["criteria"]]
    return {"scores": {k: form.get(f"score_{k}", "").strip() for k in keys if form.get(f"score_{k}", "").strip()},
            "items": form.getlist("item"), "notes": {k: form.get(f"note_{k}", "") for k in keys},
            "note": form.get("note", ""), "submit": submit}


@bp.route("/<int:campaign_id>/review/<int:station_id>", methods=["GET", "POST"])
@allow("reviewer")
def review(campaign_id, station_id):
    """One review form: criteria to tick and score, beside the station's facts and evidence of use."""
    campaign = campaign_or_404(campaign_id)
    db = get_db()
    if not any(a["station_id"] == station_id for a in core.reviewer_queue(db, campaign_id, g.user["id"])):
        abort(403)
    error, values = None, None
    if request.method == "POST":
        values = _form_review(request.form, campaign["rubric"], request.form.get("action") == "submit")
        try:
            core.save_review(db, campaign_id, station_id, values, g.user)
        except core.CampaignError as exc:
            if exc.status == 403:
                return render_template("error.html", code=403, message=exc.message), 403
            error = exc
        else:
            flash("已提交，评审已锁定。" if values["submit"] else "草稿已保存。")
            return redirect(url_for("campaigns.queue", campaign_id=campaign_id) if values["submit"]
                            else url_for("campaigns.review", campaign_id=campaign_id, station_id=station_id))
    saved = core.get_review(db, campaign_id, station_id, g.user["id"])
    facts = core.station_facts(db, station_id)
    facts["station"] = _hours_in_words(facts["station"])
    return render_template("campaign/review.html", campaign=campaign, saved=saved, values=values or saved,
                           error=error, rubric=campaign["rubric"], **facts, facility_names=FACILITIES,
                           photos=core.nomination_photos(db, campaign_id, {station_id}).get(station_id, []),
                           nomination=next((n for n in core.active_nominations(db, campaign_id)
                                            if n["station_id"] == station_id), None)), (error.status if error else 200)


@bp.get("/<int:campaign_id>/ranking")
@allow("admin")
def ranking(campaign_id):
    """The ranking: totals, criteria, spread, flags, agreement, a radar chart per station."""
    campaign = managed_or_403(campaign_id)
    raw = request.args.get("normalise")
    normalise = None if raw not in ("0", "1") else raw == "1"
    if campaign["ranking"] and normalise in (None, campaign["normalise"]):
        result = campaign["ranking"]
    else:
        result = core.live_ranking(get_db(), campaign, normalise=normalise, thresholds=ledger_thresholds())
    rows = core.ranking_view(get_db(), campaign, result)
    page = min(max(1, request.args.get("page", 1, type=int) or 1), max(1, -(-len(rows) // PAGE_ROWS)))
    shown = rows[(page - 1) * PAGE_ROWS: page * PAGE_ROWS]
    criteria = campaign["rubric"]["criteria"]
    radars = {r["station_id"]: core.radar_svg(criteria, r["criteria"], size=180, title=r["name"]) for r in shown}
    return render_template("campaign/ranking.html", campaign=campaign, rows=shown, radars=radars,
                           agreement=result["agreement"], rules=core.ranking_rules(ledger_thresholds(), campaign["rubric"]), total=len(rows), page=page,
                           pages=max(1, -(-len(rows) // PAGE_ROWS)), criteria=criteria,
                           normalise=result.get("normalise", campaign["normalise"]), quota=campaign["quota"])


@bp.get("/<int:campaign_id>")
@allow(PUBLIC)
def notice(campaign_id):
    """The public notice: the provisional list during 公示 (with objections), the final list after."""
    try:
        listed = core.notice_list(get_db(), campaign_id)
    except core.NotFound:
        if g.get("user") and g.user["role"] == "admin":
            return redirect(url_for("campaigns.manage", campaign_id=campaign_id))
        abort(404)
    return render_template("campaign/notice.html", listed=listed, errors={}, form={})


@bp.post("/<int:campaign_id>/objections")
@allow(PUBLIC)
def object_(campaign_id):
    """Lodge an objection (anyone; nothing personal is stored; rate-limited like feedback)."""
    try:
        listed = core.notice_list(get_db(), campaign_id)
    except core.NotFound:
        abort(404)
    config = current_app.config
    try:
        made = core.lodge_objection(get_db(), campaign_id, request.form.to_dict(), client=client_id(),
                                    limits={"per_client": config["YIZHAN_FEEDBACK_PER_CLIENT"],
                                            "global": config["YIZHAN_FEEDBACK_GLOBAL"]})
    except core.CampaignError as exc:
        return render_template("campaign/notice.html", listed=listed, errors={exc.field or "form": exc.message},
                               form=request.form), exc.status
    except RateLimited as exc:
        return render_template("campaign/notice.html", listed=listed, form=request.form,
                               errors={"form": "提交太频繁了，请稍后再试。"}), 429, {"Retry-After": str(exc.retry_after)}
    flash(made["message"] if made["duplicate"] else "已收到您的异议，组织者会逐条核实处理。谢谢！", "objection")
    return redirect(url_for("campaigns.notice", campaign_id=campaign_id) + "#objection")


@bp.post("/<int:campaign_id>/objections/<int:objection_id>")
@allow("admin")
def resolve(campaign_id, objection_id):
    """Resolve an objection: upheld removes the station and the next in rank moves up."""
    back = url_for("campaigns.manage", campaign_id=campaign_id) + "#objections"
    try:
        done = core.resolve_objection(get_db(), campaign_id, objection_id, request.form.to_dict(), g.user)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, back)
    flash("异议成立，该站点已移出名单，下一名递补。" if done["state"] == "upheld" else "已驳回异议。")
    return redirect(back)


@bp.get("/<int:campaign_id>/awards.<fmt>")
@allow("admin")
def awards(campaign_id, fmt):
    """The confirmed award list with totals and the subsidy sum, as XLSX or CSV."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    managed_or_403(campaign_id)
    try:
        campaign, rows = core.award_rows(get_db(), campaign_id)
    except core.NotFound:
        abort(404)
    except core.CampaignError as exc:
        return _refused(exc, url_for("campaigns.manage", campaign_id=campaign_id))
    if fmt == "xlsx":
        body, kind = core.awards_xlsx(campaign, rows), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, kind = core.awards_csv(campaign, rows), "text/csv; charset=utf-8"
    return Response(body, content_type=kind, headers={  # content_type: the charset said once
        "Content-Disposition": f"attachment; filename=yizhan-awards-{campaign_id}.{fmt}"})


def _hours_in_words(station):
    """The station with ``hours_shown``: its hours as the station page says them (周一至周五 …)."""
    return {**station, "hours_shown": public_station(station)["hours_shown"]}
