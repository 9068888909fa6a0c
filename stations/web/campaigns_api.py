"""JSON API for the 最美站点 selection: /api/v1/campaigns/… (thin; rules live in stations.campaign)."""

from flask import Blueprint, current_app, g, jsonify, request

from .. import campaign as core
from ..campaign import tree
from ..accounts.limits import RateLimited
from . import csrf
from .access import PUBLIC, allow, client_id
from .api import refuse_empty_typed_parameters
from .api_common import error_answer, json_object, protect_session, too_many
from .db import get_db
from .ledger import thresholds as ledger_thresholds

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/v1/campaigns")
bp.before_request(refuse_empty_typed_parameters)  # ?field= is a 400, as on the rest of the API


@bp.errorhandler(core.CampaignError)
def campaign_error(exc):
    return error_answer(exc, exc.detail)


@bp.errorhandler(core.NotFound)
def not_found(exc):
    return jsonify(error={"status": 404, "message": "没有这个活动或对象"}), 404


def _body():
    return json_object(core.CampaignError)


def campaign_json(campaign) -> dict:
    keys = ("id", "name", "year", "level", "quota", "subsidy_yuan", "reviewers_per_station", "notice_days",
            "stage", "normalise", "created_at", "created_by", "archived_at", "archived_reason", "pass_mark")
    out = {k: campaign[k] for k in keys}
    out["stage_name"] = campaign["stage_name"]
    out["notice"] = {"start": campaign["notice_start"], "end": campaign["notice_end"]}
    out["rubric"] = campaign["rubric"]
    out["union_id"] = campaign.get("union_id")
    out["title"] = core.award_title(campaign)
    return out


@bp.post("")
@allow("admin")
def create():
    """Create a campaign (organiser)."""
    campaign_id = core.create_campaign(get_db(), _body(), g.user)
    warning = core.namesake_warning(get_db(), campaign_id)
    return jsonify({**campaign_json(core.get_campaign(get_db(), campaign_id)),
                    "warnings": [warning] if warning else []}), 201


@bp.get("/<int:campaign_id>")
@allow("admin", "reviewer", "union")
def show(campaign_id):
    """A campaign with its stage and rubric."""
    return jsonify(campaign_json(core.get_campaign(get_db(), campaign_id)))


@bp.put("/<int:campaign_id>/rubric")
@allow("admin")
def rubric(campaign_id):
    """Replace the rubric (before review starts)."""
    data = _body()
    return jsonify(rubric=core.set_rubric(get_db(), campaign_id, data.get("rubric", data), g.user))


def _photo_dir():
    from .campaigns import photo_dir

    return photo_dir()


def _photo_limit() -> int:
    return current_app.config["YIZHAN_PHOTO_UPLOADS_PER_USER"]


def _too_many_photos(exc: RateLimited):
    return too_many(core.photo_limit_message(_photo_limit(), exc.retry_after), exc)


def _multipart():
    """(form fields, photos as (filename, bytes)) of a multipart request, as the web form sends."""
    protect_session()
    photos = []
    for upload in request.files.getlist("photos"):
        try:
            photos.append((upload.filename or "", upload.read()))
        finally:
            upload.close()  # a large part is spooled to a temporary file: close it now
    return request.form.to_dict(), photos


@bp.post("/<int:campaign_id>/nominations")
@allow("admin", "union")
def nominate(campaign_id):
    """Nominate a station (union: its own; organiser: any): JSON, or multipart with photos."""
    if request.mimetype == "multipart/form-data":
        data, photos = _multipart()
        try:
            made = core.nominate(get_db(), campaign_id, data, g.user, photos=photos, photo_dir=_photo_dir(),
                                 photo_limit=_photo_limit())
        except RateLimited as exc:
            return _too_many_photos(exc)
        return jsonify(made), 201
    return jsonify(core.nominate(get_db(), campaign_id, _body(), g.user)), 201


@bp.get("/<int:campaign_id>/nominations")
@allow("admin", "union")
def nominations(campaign_id):
    """Nominations: a union account its union's, an admin those of its scope."""
    rows = tree.visible_nominations(get_db(), campaign_id, g.user)
    keys = ("id", "station_id", "union_id", "union_name", "name", "reason", "photos", "forwarded_at")
    return jsonify(nominations=[{**{k: r[k] for k in keys}, "forwarded": r["forwarded_at"] is not None}
                                for r in rows])


@bp.route("/<int:campaign_id>/nominations/<int:station_id>/forward", methods=["POST", "DELETE"])
@allow("admin")
def forward(campaign_id, station_id):
    """Forward a nomination of your union's subtree within its quota (DELETE: withdraw it)."""
    protect_session()
    return jsonify(tree.forward(get_db(), campaign_id, station_id, g.user, undo=request.method == "DELETE"))


@bp.post("/<int:campaign_id>/nominations/<int:station_id>/photos")
@allow("admin", "union")
def nomination_photos(campaign_id, station_id):
    """Add photos to a nomination (multipart ``photos``), while nominations are open."""
    if request.mimetype != "multipart/form-data":
        raise core.CampaignError("请以 multipart/form-data 上传照片（字段 photos）", "photos")
    _, photos = _multipart()
    try:
        added = core.add_photos(get_db(), campaign_id, station_id, photos, g.user, photo_dir=_photo_dir(),
                                photo_limit=_photo_limit())
    except RateLimited as exc:
        return _too_many_photos(exc)
    return jsonify(added), 201


@bp.post("/<int:campaign_id>/stage")
@allow("admin")
def stage(campaign_id):
    """Move the campaign one stage forward."""
    data = _body()
    campaign = core.advance_stage(get_db(), campaign_id, data.get("stage"), g.user,
                                  reason=data.get("reason") or "", force=data.get("force", False),
                                  thresholds=ledger_thresholds(), notice_start=data.get("notice_start"),
                                  notice_workdays=data.get("notice_workdays", False))
    return jsonify(campaign_json(campaign))


def _pairs(rows):
    return {"assignments": [{"station_id": r["station_id"], "reviewer": r["reviewer"], "state": r["state"]}
                            for r in rows]}


@bp.post("/<int:campaign_id>/assignments")
@allow("admin")
def assign(campaign_id):
    """Assign reviewers to every nominee automatically."""
    if not g.get("basic_auth"):
        csrf.protect()
    pairs = _pairs(core.assign_reviewers(get_db(), campaign_id, g.user))
    return jsonify({**pairs, "note": core.assignment_note(get_db(), campaign_id)}), 201


@bp.get("/<int:campaign_id>/assignments")
@allow("admin", "reviewer")
def assignments(campaign_id):
    """Who reviews which station (a reviewer sees only their own)."""
    core.get_campaign(get_db(), campaign_id)
    mine = g.user["id"] if g.user["role"] == "reviewer" else None
    return jsonify(_pairs(core.list_assignments(get_db(), campaign_id, reviewer_id=mine)))


@bp.post("/<int:campaign_id>/assignments/change")
@allow("admin")
def change_assignment(campaign_id):
    """Replace one reviewer of a station (optionally swapping a station back)."""
    core.reassign(get_db(), campaign_id, _body(), g.user)
    return jsonify(_pairs(core.list_assignments(get_db(), campaign_id)))


@bp.post("/<int:campaign_id>/reviews")
@allow("reviewer")
def review(campaign_id):
    """Keep a draft or submit a review of an assigned station."""
    data = _body()
    saved, created = core.save_review(get_db(), campaign_id, data.get("station_id"), data, g.user)
    keys = ("station_id", "scores", "items", "notes", "note", "submitted", "updated_at", "submitted_at")
    return jsonify({k: saved[k] for k in keys}), (201 if created else 200)


def _flag_param():
    raw = request.args.get("normalise")
    if raw in (None, ""):
        return None
    if raw not in ("0", "1", "true", "false"):
        raise core.CampaignError("normalise 应为 0 或 1", "normalise")
    return raw in ("1", "true")


@bp.get("/<int:campaign_id>/ranking")
@allow("admin")
def ranking(campaign_id):
    """The ranking with flags and reviewer agreement (organiser)."""
    db = get_db()
    campaign = core.get_campaign(db, campaign_id)
    normalise = _flag_param()
    if campaign["ranking"] and normalise in (None, campaign["normalise"]):
        result = campaign["ranking"]
    else:
        result = core.live_ranking(db, campaign, normalise=normalise, thresholds=ledger_thresholds())
    keys = ("rank", "station_id", "name", "total", "criteria", "reviews", "spread", "flags")
    # face_reasons: why a row is flagged 面子工程, in Chinese, saying what was counted
    return jsonify({"ranking": [{**{k: r[k] for k in keys}, "face_reasons": r.get("face_reasons") or []}
                                for r in result["ranking"]],
                    "agreement": result["agreement"], "normalise": result.get("normalise", campaign["normalise"]),
                    "rules": core.ranking_rules(ledger_thresholds(), campaign["rubric"])})


@bp.get("/<int:campaign_id>/notice")
@allow(PUBLIC)
def notice(campaign_id):
    """The public list: provisional during 公示, final after 确认."""
    listed = core.notice_list(get_db(), campaign_id)
    return jsonify({"stage": listed["stage"], "period": listed["period"], "schedule": listed["schedule"], "quota": listed["quota"],
                    "stations": listed["stations"]})


@bp.post("/<int:campaign_id>/objections")
@allow(PUBLIC)
def object_(campaign_id):
    """Lodge an objection to a listed station (anyone; rate-limited; the same one again: 200)."""
    data = request.get_json(silent=True)
    config = current_app.config
    try:
        made = core.lodge_objection(get_db(), campaign_id, data, client=client_id(),
                                    limits={"per_client": config["YIZHAN_FEEDBACK_PER_CLIENT"],
                                            "global": config["YIZHAN_FEEDBACK_GLOBAL"]})
    except RateLimited as exc:
        return too_many("提交太频繁了，请稍后再试。", exc)
    return jsonify(made), (200 if made["duplicate"] else 201)  # the same objection again: received once


@bp.post("/<int:campaign_id>/objections/<int:objection_id>")
@allow("admin")
def resolve(campaign_id, objection_id):
    """Resolve an objection: upheld removes the station (the next moves up)."""
    return jsonify(core.resolve_objection(get_db(), campaign_id, objection_id, _body(), g.user))
