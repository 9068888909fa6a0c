"""JSON API v1: stations as GeoJSON, with an OpenAPI document."""

import functools
import re

import orjson
from flask import Blueprint, current_app, g, jsonify, request

from ..riders import directory as core
from ..campaign import latest_checklist, latest_checklists, qiyou_property
from ..registry.exporter import feature_collection, station_feature
from ..openapi import openapi_document
from ..registry.edit import save_station
from ..riders.search import nearest_json, parse_nearest_query
from ..storage import StationNotFound
from ..unions.scope import scope_of
from . import csrf
from .access import PUBLIC, allow
from .db import get_db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def bad_request(parameter, message):
    return jsonify(error={"status": 400, "parameter": parameter, "message": message}), 400


@bp.errorhandler(core.QueryError)
def query_error(exc):
    return bad_request(exc.parameter, exc.message)


@functools.cache
def _typed_parameters() -> dict:
    """{(OpenAPI path, METHOD): query parameters documented as numbers, enums or patterns}."""
    out = {}
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            out[path, method.upper()] = [
                p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                and (set(p["schema"]) & {"enum", "minimum", "maximum"}
                     or p["schema"].get("type") in ("integer", "number")
                     or not re.search(p["schema"].get("pattern", ""), ""))]
    return out


@bp.before_request
def refuse_empty_typed_parameters():
    """``?datum=`` or ``?limit=`` is neither a datum nor a number: a 400, as the
    document says, rather than silently the default (leave the parameter out for that)."""
    rule = request.url_rule
    if rule is None or not request.query_string:
        return None
    empty = [name for name, value in request.args.items(multi=True) if not value.strip()]
    if not empty:  # the usual request: nothing to look up
        return None
    typed = _typed_parameters().get((_openapi_path(rule.rule), request.method), ())
    for name in typed:
        if name in empty:
            return bad_request(name, f"参数 {name} 不能为空：请给出取值，或不带这个参数")
    return None


@functools.lru_cache(maxsize=256)
def _openapi_path(rule: str) -> str:
    """``/api/v1/stations/<int:station_id>`` -> ``/api/v1/stations/{station_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@bp.get("/openapi.json")
@allow(PUBLIC)
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@bp.get("/stations")
@allow(PUBLIC)
def stations():
    """Stations matching the filters, as a GeoJSON FeatureCollection."""
    query = core.parse_api_query(request.args)
    rows, total = core.search_api(get_db(), query)
    extra = {"total": total, "limit": query.limit, "offset": query.offset, "datum": query.datum}
    doc = feature_collection(rows, query.datum, extra=extra)
    checklists = latest_checklists(get_db(), [r["id"] for r in rows])
    for feature in doc["features"]:
        feature["properties"]["qiyou"] = qiyou_property(checklists.get(feature["id"]))
    return jsonify(doc)


@bp.get("/stations/<int:station_id>")
@allow(PUBLIC)
def station(station_id):
    """One station as a GeoJSON Feature."""
    datum = core.parse_datum_param(request.args.get("datum"))
    try:
        found = core.get_public_station(get_db(), station_id)
    except StationNotFound:
        return jsonify(error={"status": 404, "message": f"没有编号为 {station_id} 的站点"}), 404
    feature = station_feature(found, datum)
    feature["properties"]["qiyou"] = qiyou_property(latest_checklist(get_db(), station_id))
    return jsonify(feature)


_MAX_BODY_DEPTH = 16  # a Feature with a Point needs 4


def _json_body():
    """The JSON body (None when the request is not JSON); malformed or too deeply
    nested JSON is a 400 naming the body, never a RecursionError."""
    if not request.is_json:
        return None
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError as exc:
        why = (f"嵌套过深（最多 {_MAX_BODY_DEPTH} 层）" if "depth" in exc.msg or "recursion" in exc.msg
               else f"第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}")
        raise core.QueryError("body", f"请求体不是有效的 JSON，{why}") from None
    stack, depth = [(body, 1)], 0
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_BODY_DEPTH:
            raise core.QueryError("body", f"请求体的 JSON 嵌套过深（最多 {_MAX_BODY_DEPTH} 层）")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return body


def _write(station_id=None, partial=False):
    if not g.get("basic_auth"):
        csrf.protect()  # a cookie session needs the X-CSRFToken header
    raw = core.fields_from_json(_json_body())
    datum = core.parse_datum_param(raw.pop("datum", None) or request.args.get("datum"))
    try:
        result = save_station(get_db(), raw, station_id=station_id, datum=datum, partial=partial,
                              region=current_app.config["YIZHAN_REGION"], username=g.user["username"],
                              union_parent_id=scope_of(get_db(), g.user).union_id)
    except StationNotFound:
        return jsonify(error={"status": 404, "message": f"没有编号为 {station_id} 的站点"}), 404
    if not result.ok:
        return jsonify(error={"status": 400, "message": "invalid station",
                              "fields": result.errors_by_field()}), 400
    feature = station_feature(result.station, datum, private=True)
    feature["warnings"] = [str(w) for w in result.warnings]
    return jsonify(feature), (201 if station_id is None else 200)


@bp.post("/stations")
@allow("admin")
def create():
    """Create a station (admin)."""
    return _write()


@bp.route("/stations/<int:station_id>", methods=["PATCH", "PUT"])
@allow("admin")
def update(station_id):
    """Change a station (admin): PATCH changes the fields sent, PUT replaces them all."""
    return _write(station_id, partial=request.method == "PATCH")


@bp.get("/nearest")
@allow(PUBLIC)
def nearest():
    """The k nearest stations to a point, with distance, walking minutes and open-now."""
    query = parse_nearest_query(request.args.to_dict())
    body = nearest_json(get_db(), query, current_app.config["YIZHAN_DB"])
    return current_app.response_class(body, mimetype="application/json")
