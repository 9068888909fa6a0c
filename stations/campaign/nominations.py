"""基层推荐: a grassroots union nominates its own active stations, with a reason and photos.

Photos are re-encoded, so what is stored is pixels only: no EXIF (riders' and
managers' GPS tags), no comments, no ICC/XMP/text blocks, no trailing bytes.  The
web worker never decodes one: its structure is checked here (``stations.photos``
refuses a scan bomb by counting its scans), then a child process with CPU, memory
and time limits decodes and re-encodes it.  Each account may upload a limited number
of photos an hour (counted in ``rate_limits`` before any decoding).
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from ..accounts import limits as _limits
from ..riders.feedback import open_flag_count
from ..photos import DecodeLimits, PhotoRefused, check_structure, run_child
from ..photos.child import LONGEST_SIDE, MAX_PIXELS
from ..registry.records import STATUSES
from ..storage import StationNotFound, get_station, now_iso, write_transaction
from ..accounts.users import same_union, speaks_for
from .errors import CampaignError, NotFound
from ..unions.scope import in_scope, scope_of
from .store import STAGE_NAMES, clean_text, get_campaign, log_event, require_open
from .tree import in_campaign_subtree

__all__ = ["DECODE_LIMITS", "LONGEST_SIDE", "MAX_PHOTOS", "MAX_PHOTO_BYTES", "MAX_PIXELS", "nominate", "add_photos",
           "read_photo", "photo_file", "nomination_photos", "photo_limit_message", "union_stations", "find_nominees"]

MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024
DECODE_LIMITS = DecodeLimits()  # what decoding one photo may cost (CPU, memory, wall clock)


def _label(filename: str) -> str:
    return f"照片“{filename}”" if filename else "照片"


def _check_photo(data: bytes, filename: str = "") -> None:
    """The checks that need no decoder: size, emptiness, format and structure."""
    label = _label(filename)
    if len(data) > MAX_PHOTO_BYTES:
        raise CampaignError(f"{label}太大（{len(data) / 1048576:.1f} MB），每张最多 5 MB", "photos")
    if not data:
        raise CampaignError(f"{label}是空文件", "photos")
    try:
        check_structure(data)
    except PhotoRefused as exc:
        raise CampaignError(f"{label}{exc.message}", "photos", exc.status) from None


def read_photo(data: bytes, filename: str = "", *, limits: DecodeLimits | None = None
               ) -> tuple[bytes, str, str, int, int]:
    """Check and re-encode one photo; returns (bytes, extension, content type, width, height).

    JPEG, PNG or WebP up to 5 MB and 40 Mpx, with a structure a photo needs (a JPEG
    of at most 40 scans); it is decoded in a child process within ``limits``
    (default ``DECODE_LIMITS``).  Orientation from EXIF is applied to the pixels,
    colours are converted to sRGB, then all metadata is left behind; the longest side
    is at most 2560 px.  Anything else raises CampaignError (field ``photos``; status
    503 when the server has no decoder free).
    """
    _check_photo(data, filename)
    try:
        return run_child(data, limits or DECODE_LIMITS, MAX_PHOTO_BYTES)
    except PhotoRefused as exc:
        raise CampaignError(f"{_label(filename)}{exc.message}", "photos", exc.status) from None


def _read_photos(db, user, photos, per_hour: int | None) -> list[tuple[bytes, str, str, int, int]]:
    # Every photo's cheap checks first: one bad file refuses the lot before any is
    # counted or decoded.  Then the count, then the decoding (one after another).
    for name, data in photos:
        _check_photo(data, name)
    _count_photos(db, user, len(photos), per_hour)
    return [read_photo(data, name) for name, data in photos]


def photo_limit_message(per_hour: int, retry_after: int) -> str:
    """What a user refused by the per-account photo limit is told."""
    return (f"上传照片太频繁了：每个账号每小时最多 {per_hour} 张，"
            f"请约 {max(1, -(-retry_after // 60))} 分钟后再试。")


def _count_photos(db, user, count: int, per_hour: int | None) -> None:
    """Count ``count`` photo uploads against the user's hourly limit, all or none;
    raises limits.RateLimited (scope "photos") when they do not fit."""
    if per_hour is None or not count:
        return
    rule = [_limits.Limit(f"photos-user:{user['username']}", int(per_hour), 3600, "photos")]
    taken = []
    try:
        for _ in range(count):
            taken += _limits.take(db, rule)
    except _limits.RateLimited:
        if taken:
            _limits.give_back(db, taken)
        raise


def union_stations(db, user, limit: int = 500) -> list[dict]:
    """The active stations a union user may nominate (its own union's, by record; by name
    for an account of no union record)."""
    if user.get("union_id") is not None:
        return list(db.query("SELECT id, name, district FROM stations WHERE host_union_id = ? AND status = 'active' "
                             "ORDER BY name LIMIT ?", [user["union_id"], int(limit)]))
    return list(db.query("SELECT id, name, district FROM stations WHERE host_union = ? AND status = 'active' "
                         "ORDER BY name LIMIT ?", [user["union_name"], int(limit)]))


def find_nominees(db, campaign_id, user, q: str, limit: int = 20) -> list[dict]:
    """Active stations whose name or address contains ``q`` (or whose number is ``q``),
    that this user may nominate (a union: its own union's), each with ``nominated`` (already
    in this campaign) — so the form offers names to pick, not a bare number to know."""
    from ..storage import search_stations

    q = " ".join(str(q or "").split())[:40]
    if not q:
        return []
    rows, _ = search_stations(db, q=q, status="active", limit=200)
    if q.isdigit():
        try:
            exact = get_station(db, int(q))
            rows = [exact] + [r for r in rows if r["id"] != exact["id"]] if exact["status"] == "active" else rows
        except StationNotFound:
            pass
    taken = {sid for (sid,) in db.execute("SELECT station_id FROM nominations WHERE campaign_id = ?",
                                          [int(campaign_id)])}
    campaign = get_campaign(db, campaign_id)
    scope = scope_of(db, user)
    mine = [r for r in rows if (speaks_for(user, r) if user["role"] != "admin"
                                else in_scope(db, scope, r.get("host_union_id")))
            and in_campaign_subtree(db, campaign, r.get("host_union_id"))]
    return [{"id": r["id"], "name": r["name"], "district": r.get("district"), "address": r.get("address"),
             "host_union": r.get("host_union"), "nominated": r["id"] in taken} for r in mine[:limit]]


def _check_station(db, station_id, user, campaign):
    try:
        station = get_station(db, station_id)
    except StationNotFound:
        raise CampaignError(f"没有编号为 {station_id} 的站点", "station_id") from None
    if station["status"] != "active":
        raise CampaignError(f"站点“{station['name']}”{STATUSES.get(station['status'], station['status'])}，"
                            "只能推荐正常开放的站点", "station_id")
    flags = open_flag_count(db, station["id"])
    if flags:
        raise CampaignError(f"站点“{station['name']}”有 {flags} 条未核实的骑手报告（关门/找不到/已搬走），"
                            "核实处理后才能推荐", "station_id")
    if user["role"] == "union" and not speaks_for(user, station):
        raise CampaignError(f"只能推荐本工会（{user['union_name']}）的站点，“{station['name']}”属于"
                            f"{station['host_union'] or '未登记工会'}", "station_id", 403)
    if user["role"] == "admin" and not in_scope(db, scope_of(db, user), station.get("host_union_id")):
        raise CampaignError(f"站点“{station['name']}”（{station['host_union'] or '未登记工会'}）不在您的工会范围内",
                            "station_id", 403)
    if not in_campaign_subtree(db, campaign, station.get("host_union_id")):
        raise CampaignError(f"本活动由{campaign.get('organiser') or '组织工会'}组织，只接受其下级工会的推荐；"
                            f"“{station['name']}”属于{station['host_union'] or '未登记工会'}", "station_id", 403)
    return station


def _already_nominated(db, campaign_id, station_id) -> dict | None:
    """Who nominated the station in this campaign, and when; None if no one has."""
    rows = list(db.query("SELECT nominated_by, created_at FROM nominations WHERE campaign_id = ? "
                         "AND station_id = ?", [campaign_id, station_id]))
    return rows[0] if rows else None


def _refuse_duplicate(db, campaign, station) -> None:
    """CampaignError 409 if the station is already nominated in this campaign."""
    prior = _already_nominated(db, campaign["id"], station["id"])
    if prior is not None:
        raise _duplicate(station, prior)


def _duplicate(station, prior) -> CampaignError:
    who = f"（{prior['nominated_by']}，{prior['created_at'][:10]}）" if prior else ""
    return CampaignError(f"站点“{station['name']}”已被推荐{who}，不能重复推荐", "station_id", 409)


def nominate(db, campaign_id, data, user, *, photos=(), photo_dir: Path | None = None,
             photo_limit: int | None = None) -> dict:
    """Nominate a station; ``photos`` are (filename, bytes) pairs, stored under ``photo_dir``.

    All or nothing: a bad photo or a refused station writes nothing.  Raises
    CampaignError (400 bad input, 403 another union's station, 409 not the nomination
    stage or already nominated).  ``photo_limit`` is how many photos one account may
    upload an hour: photos that pass the checks needing no decoder are counted (the
    ones a decoder then refuses too) before any is decoded; past it raises
    limits.RateLimited.
    """
    if user["role"] not in ("admin", "union"):
        raise CampaignError("只有组织者或基层工会可以推荐站点", None, 403)
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError(f"推荐已截止：活动现处于“{campaign['stage_name']}”阶段", "stage", 409)
    if not isinstance(data, dict):
        raise CampaignError("请求体应是 JSON 对象", "body")
    raw_id = data.get("station_id")
    try:
        station_id = int(str(raw_id).strip())
    except (TypeError, ValueError):
        raise CampaignError("请填写站点编号（整数）", "station_id") from None
    reason = clean_text(data.get("reason"), "reason", "推荐理由", 1000, shortest=5)
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise CampaignError(f"最多 {MAX_PHOTOS} 张照片（收到 {len(photos)} 张）", "photos")
    try:
        station = _check_station(db, station_id, user, campaign)
    except CampaignError as exc:
        if exc.status == 403:
            with write_transaction(db):
                log_event(db, campaign["id"], "refused", username=user["username"],
                          reason=exc.message, detail={"action": "nominate", "station_id": station_id})
        raise
    _refuse_duplicate(db, campaign, station)  # early, before the photos' decoding is paid for
    encoded = _read_photos(db, user, photos, photo_limit)
    written = []
    try:
        with write_transaction(db):
            # Again under the write lock: another request for the same station may have
            # passed the early check too (two sent at once, each decoding its photos).
            stage = db.execute("SELECT stage FROM campaigns WHERE id = ?", [campaign["id"]]).fetchone()[0]
            if stage != "nomination":
                raise CampaignError(f"推荐已截止：活动现处于“{STAGE_NAMES[stage]}”阶段", "stage", 409)
            _refuse_duplicate(db, campaign, station)
            host_union, host_union_id = db.execute("SELECT host_union, host_union_id FROM stations WHERE id = ?",
                                                   [station["id"]]).fetchone()
            try:
                nomination_id = db["nominations"].insert({
                    "campaign_id": campaign["id"], "station_id": station["id"], "union_id": host_union_id,
                    "union_name": host_union, "nominated_by": user["username"],
                    "reason": reason, "created_at": now_iso()}).last_pk
            except sqlite3.IntegrityError:  # UNIQUE (campaign_id, station_id): the same answer
                raise _duplicate(station, _already_nominated(db, campaign["id"], station["id"])) from None
            _store_photos(db, campaign["id"], nomination_id, encoded, photo_dir, written)
            log_event(db, campaign["id"], "nominate", username=user["username"],
                      detail={"station_id": station["id"], "name": station["name"], "photos": len(encoded)})
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return {"id": nomination_id, "campaign_id": campaign["id"], "station_id": station["id"],
            "name": station["name"], "union_name": host_union, "reason": reason,
            "photos": len(encoded), "nominated_by": user["username"]}


def _store_photos(db, campaign_id, nomination_id, encoded, photo_dir, written) -> list[int]:
    """Write re-encoded photos and their rows (inside the caller's transaction); the
    files written are appended to ``written`` so the caller can remove them on failure."""
    ids = []
    for blob, ext, content_type, width, height in encoded:
        folder = Path(photo_dir) / str(campaign_id) / str(nomination_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(8)}.{ext}"
        path.write_bytes(blob)
        written.append(path)
        ids.append(db["nomination_photos"].insert({
            "nomination_id": nomination_id, "path": str(path.relative_to(photo_dir)),
            "content_type": content_type, "width": width, "height": height,
            "bytes": len(blob), "created_at": now_iso()}).last_pk)
    return ids


def add_photos(db, campaign_id, station_id, photos, user, *, photo_dir: Path,
               photo_limit: int | None = None) -> dict:
    """Add photos to a nomination while nominations are open: the organiser, or the union
    that speaks for the station.  Same checks and re-encoding as when nominating; the
    nomination keeps at most MAX_PHOTOS; all or nothing.  ``photo_limit`` as for
    ``nominate``."""
    if user["role"] not in ("admin", "union"):
        raise CampaignError("只有组织者或基层工会可以上传推荐照片", None, 403)
    campaign = get_campaign(db, campaign_id)
    require_open(campaign)
    if campaign["stage"] != "nomination":
        raise CampaignError(f"推荐已截止：活动现处于“{campaign['stage_name']}”阶段，不能再加照片", "stage", 409)
    rows = list(db.query("SELECT n.id, (SELECT count(*) FROM nomination_photos p WHERE p.nomination_id = n.id) "
                         "AS photos FROM nominations n WHERE n.campaign_id = ? AND n.station_id = ? "
                         "AND n.removed_at IS NULL", [campaign["id"], int(station_id)]))
    if not rows:
        raise NotFound(f"no nomination of station {station_id}")
    station = get_station(db, int(station_id))
    if not speaks_for(user, station) or (user["role"] == "admin" and not in_scope(
            db, scope_of(db, user), station.get("host_union_id"))):
        with write_transaction(db):
            log_event(db, campaign["id"], "refused", username=user["username"],
                      reason="为其他工会的推荐上传照片", detail={"action": "add_photos", "station_id": station["id"]})
        raise CampaignError(f"只能为本工会（{user['union_name']}）推荐的站点上传照片", "station_id", 403)
    photos = list(photos)
    if not photos:
        raise CampaignError("请选择要上传的照片（字段 photos）", "photos")
    have = rows[0]["photos"]
    if have + len(photos) > MAX_PHOTOS:
        raise CampaignError(f"每个推荐最多 {MAX_PHOTOS} 张照片（已有 {have} 张，又收到 {len(photos)} 张）", "photos")
    encoded = _read_photos(db, user, photos, photo_limit)
    written = []
    try:
        with write_transaction(db):
            ids = _store_photos(db, campaign["id"], rows[0]["id"], encoded, photo_dir, written)
            log_event(db, campaign["id"], "photos", username=user["username"],
                      detail={"station_id": station["id"], "name": station["name"], "photos": len(encoded)})
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return {"campaign_id": campaign["id"], "station_id": station["id"], "name": station["name"],
            "added": len(ids), "photo_ids": ids, "photos": have + len(ids)}


def _ours(user, nomination) -> bool:
    """Whether a union account's union made this nomination (by record; by name without one)."""
    if user.get("union_id") is not None and nomination.get("union_id") is not None:
        return user["union_id"] == nomination["union_id"]
    return same_union(user["union_name"], nomination["union_name"])


def nomination_photos(db, campaign_id, station_ids=None) -> dict:
    """{station id: [photo rows]} for a campaign's nominations."""
    rows = db.query("SELECT p.id, p.width, p.height, p.content_type, n.station_id FROM nomination_photos p "
                    "JOIN nominations n ON n.id = p.nomination_id WHERE n.campaign_id = ? ORDER BY p.id",
                    [int(campaign_id)])
    out = {}
    for r in rows:
        if station_ids is None or r["station_id"] in station_ids:
            out.setdefault(r["station_id"], []).append(r)
    return out


def photo_file(db, campaign_id, photo_id, photo_dir: Path, user=None) -> tuple[Path, str]:
    """(path, content type) of one stored photo of this campaign; NotFound otherwise.

    A ``union`` user sees only its own union's nominations' photos (another union's are
    NotFound, so ids cannot be walked to see what others sent); organisers and reviewers
    see all."""
    rows = list(db.query("SELECT p.path, p.content_type, n.union_name, n.union_id FROM nomination_photos p "
                         "JOIN nominations n ON n.id = p.nomination_id "
                         "WHERE p.id = ? AND n.campaign_id = ?", [int(photo_id), int(campaign_id)]))
    if not rows or (user is not None and user["role"] == "union" and not _ours(user, rows[0])):
        raise NotFound(f"no photo {photo_id}")
    path = (Path(photo_dir) / rows[0]["path"]).resolve()
    if Path(photo_dir).resolve() not in path.parents or not path.exists():
        raise NotFound(f"no photo {photo_id}")
    return path, rows[0]["content_type"]
