"""The OpenAPI 3.0 document of the feature service (``/ogcapi/api``), as plain data."""

from __future__ import annotations

from ..registry.records import FACILITIES, STATUSES
from ..text import SCHEMA_PATTERN
from .collections import COLLECTIONS, GEOJSON, HTML, JSON, OPENAPI, SCHEMA
from .crs import crs_uris
from .query import DEFAULT_LIMIT, MAX_LIMIT

__all__ = ["openapi_document"]

TEXT = {"type": "string", "pattern": SCHEMA_PATTERN, "maxLength": 100}


def _q(name, description, schema, **extra):
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


F = _q("f", "答复格式：json（默认）或 html（网页）；也可用 Accept 头", {"type": "string", "enum": ["json", "html"]})


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _answers(json_type, schema, *, not_found=False, headers=None):
    ok = {"description": "成功", "content": {json_type: {"schema": schema}, HTML: {"schema": {"type": "string"}}}}
    if headers:
        ok["headers"] = headers
    error = {"description": "参数有误（error.parameter 指出哪一个）",
             "content": {JSON: {"schema": _ref("Error")}, HTML: {"schema": {"type": "string"}}}}
    out = {"200": ok, "400": error, "401": {"description": "凭据有误（Basic 或 bearer 令牌）",
                                            "content": {JSON: {"schema": _ref("Error")}}},
           "429": {"description": "凭据错误次数过多，稍后再试", "content": {JSON: {"schema": _ref("Error")}}}}
    if not_found:
        out["404"] = {"description": "没有这个集合或要素", "content": {
            JSON: {"schema": _ref("Error")}, HTML: {"schema": {"type": "string"}}}}
    return out


def _get(summary, parameters, responses, operation_id):
    return {"get": {"summary": summary, "operationId": operation_id, "parameters": parameters,
                    "security": [{}, {"bearerAuth": []}, {"basicAuth": []}], "responses": responses}}


def openapi_document(root: str) -> dict:
    """The document for a server at ``root`` (``http://host``): the CRS URIs name it."""
    crs = {"type": "string", "enum": crs_uris(root)}
    collection_id = {"name": "collectionId", "in": "path", "required": True, "description": "集合",
                     "schema": {"type": "string", "enum": list(COLLECTIONS)}}
    feature_id = {"name": "featureId", "in": "path", "required": True, "description": "站点编号",
                  "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}
    content_crs = {"Content-Crs": {"description": "坐标所用的参考系（尖括号内的 URI）",
                                   "schema": {"type": "string"}}}
    moment = r"([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?|\.\.)?"
    items_parameters = [
        collection_id, F,
        _q("limit", "每页最多几个要素", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                           "default": DEFAULT_LIMIT}),
        _q("offset", "跳过前几个要素（深翻页请用 next 链接里的 cursor）",
           {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        _q("cursor", "不透明的分页游标，取自 next/prev 链接", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"}),
        _q("bbox", "范围：最小经度,最小纬度,最大经度,最大纬度（bbox-crs 为 EPSG:4326/4490 时纬度在前）",
           {"type": "array", "minItems": 4, "maxItems": 6,
            "items": {"type": "number", "minimum": -180, "maximum": 180}}, style="form", explode=False),
        _q("bbox-crs", "bbox 的坐标参考系（默认 CRS84）", crs),
        _q("crs", "输出坐标的参考系（默认 CRS84）", crs),
        _q("datetime", "更新时间（updated_at）：时刻、日期或区间 a/b，开放的一端写 ..",
           {"type": "string", "pattern": f"^{moment}(/{moment})?$"}),
        _q("district", "所在区（全名，如 海淀区）", TEXT),
        _q("status", "状态", {"type": "string", "enum": list(STATUSES)}),
        _q("facilities", "须都具备的设施", {"type": "array", "minItems": 1,
                                      "items": {"type": "string", "enum": list(FACILITIES)}},
           style="form", explode=False),
        _q("host_union", "所属工会（全名或简称，全角/半角括号与空格不计）", TEXT),
        _q("host_union_id", "所属工会编号（见 /api/v1/unions）", {"type": "integer", "minimum": 1,
                                                                     "maximum": 2 ** 53}),
        _q("open_now", "true：只要此刻开放的；false：只要此刻不开放的", {"type": "boolean"}),
    ]
    link = {"type": "object", "required": ["href", "rel"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}}
    feature = {"type": "object", "required": ["type", "id", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
        "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}}},
        "properties": {"type": "object"}, "links": {"type": "array", "items": _ref("Link")}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "驿站 Yizhan OGC API – Features", "version": "1.0.0",
                 "description": "工会户外劳动者服务站点的实时图层（OGC API – Features 第 1 部分核心、"
                                "第 2 部分按引用的坐标参考系）。公开答复只含公开信息；带 Basic 或 bearer "
                                "令牌时按该用户的角色答复。"},
        "servers": [{"url": root}],
        "paths": {
            "/ogcapi": _get("服务首页（landing page）", [F], _answers(JSON, _ref("Landing")), "landing"),
            "/ogcapi/conformance": _get("符合的标准", [F], _answers(JSON, _ref("Conformance")), "conformance"),
            "/ogcapi/api": _get("本接口定义", [F], _answers(OPENAPI, {"type": "object"}), "api"),
            "/ogcapi/collections": _get("集合列表", [F], _answers(JSON, _ref("Collections")), "collections"),
            "/ogcapi/collections/{collectionId}": _get(
                "一个集合", [collection_id, F], _answers(JSON, _ref("Collection"), not_found=True), "collection"),
            "/ogcapi/collections/{collectionId}/schema": _get(
                "集合要素属性的 JSON Schema", [collection_id, F],
                _answers(SCHEMA, {"type": "object"}, not_found=True), "schema"),
            "/ogcapi/collections/{collectionId}/items": _get(
                "集合中的要素（分页）", items_parameters,
                _answers(GEOJSON, _ref("FeatureCollection"), not_found=True, headers=content_crs), "items"),
            "/ogcapi/collections/{collectionId}/items/{featureId}": _get(
                "一个要素", [collection_id, feature_id, F, _q("crs", "输出坐标的参考系（默认 CRS84）", crs)],
                _answers(GEOJSON, feature, not_found=True, headers=content_crs), "item"),
            "/ogcapi/crs/gcj02": _get("GCJ-02 坐标参考系的说明", [F], _answers(JSON, {"type": "object"}), "gcj02"),
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"},
                                "basicAuth": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Link": link,
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["status", "message"], "properties": {
                        "status": {"type": "integer"}, "message": {"type": "string"},
                        "parameter": {"type": "string"}}}}},
                "Landing": {"type": "object", "required": ["links"], "properties": {
                    "title": {"type": "string"}, "description": {"type": "string"},
                    "links": {"type": "array", "items": _ref("Link")}}},
                "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
                    "conformsTo": {"type": "array", "items": {"type": "string"}}}},
                "Collection": {"type": "object", "required": ["id", "links"], "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "itemType": {"type": "string"}, "extent": {"type": "object"},
                    "crs": {"type": "array", "items": {"type": "string"}}, "storageCrs": {"type": "string"},
                    "links": {"type": "array", "items": _ref("Link")}}},
                "Collections": {"type": "object", "required": ["links", "collections"], "properties": {
                    "links": {"type": "array", "items": _ref("Link")},
                    "collections": {"type": "array", "items": _ref("Collection")},
                    "crs": {"type": "array", "items": {"type": "string"}}}},
                "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": feature},
                    "numberMatched": {"type": "integer", "minimum": 0},
                    "numberReturned": {"type": "integer", "minimum": 0},
                    "timeStamp": {"type": "string"},
                    "links": {"type": "array", "items": _ref("Link")}}},
            },
        },
    }
