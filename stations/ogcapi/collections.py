"""The collections offered, and the documents that describe them: landing page,
conformance, the collections list, one collection (extent, CRSs, links) and the JSON
Schema of its features' properties (``describedby``, so GDAL builds a fixed layer)."""

from __future__ import annotations

from ..registry.records import FACILITIES, STATION_TYPES, STATUSES
from ..storage import feature_extent
from .crs import CRS84, crs_uris
from .query import OgcError

__all__ = [
    "COLLECTIONS",
    "CONFORMANCE",
    "LABELS",
    "collection_document",
    "collections_document",
    "conformance_document",
    "gcj02_document",
    "get_collection",
    "landing_document",
    "schema_document",
]

# id: (title, description, storage filters)
COLLECTIONS = {
    "stations": ("工会户外劳动者服务站点",
                 ("站点名录（点）：名称、地址、所在区和街道、所属工会、类型、开放时间、设施、状态、荣誉。"
                  "坐标默认 WGS-84（CRS84）；也可按 EPSG:4326、EPSG:4490（CGCS2000）或 GCJ-02 输出。"),
                 {}),
    "awarded": ("获奖站点",
                "记录中有荣誉（如“最美工会户外劳动者服务站点”）的站点，字段与 stations 相同。",
                {"awarded": True}),
}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
LABELS = {"name": "名称", "address": "地址", "district": "区", "subdistrict": "街道/乡镇",
           "host_union": "所属工会", "host_union_id": "所属工会编号", "station_type": "类型", "hours": "开放时间（结构化）",
           "hours_text": "开放时间原文", "hours_zh": "开放时间（中文）", "facilities": "设施",
           "status": "状态", "awards": "荣誉", "synthetic": "合成数据（演示用）",
           "created_at": "创建时间", "updated_at": "更新时间", "last_verified_at": "核验时间",
           "manager": "负责人", "manager_phone": "负责人电话", "note": "备注"}
PERSONAL = ("manager", "manager_phone", "note")


def get_collection(collection_id: str):
    """(title, description, filters) of a collection; OgcError 404 when there is none."""
    if collection_id not in COLLECTIONS:
        raise OgcError(None, f"没有名为“{collection_id[:40]}”的集合：可用的集合是 "
                             + "、".join(COLLECTIONS), 404)
    return COLLECTIONS[collection_id]


def _link(href, rel, type_, title):
    return {"href": href, "rel": rel, "type": type_, "title": title}


def landing_document(root: str) -> dict:
    base = root + "/ogcapi"
    return {"title": "驿站 Yizhan：工会户外劳动者服务站点（OGC API – Features）",
            "description": "站点名录的实时图层，可在 QGIS、ArcGIS Pro、SuperMap、GDAL/ogr2ogr 中以 "
                           "OGC API – Features（OAPIF）添加。",
            "links": [_link(base, "self", JSON, "本页（JSON）"),
                      _link(base + "?f=html", "alternate", HTML, "本页（网页）"),
                      _link(base + "/api", "service-desc", OPENAPI, "接口定义（OpenAPI 3.0）"),
                      _link(base + "/api?f=html", "service-doc", HTML, "接口说明（网页）"),
                      _link(base + "/conformance", "conformance", JSON, "符合的标准"),
                      _link(base + "/collections", "data", JSON, "数据集合")]}


def conformance_document() -> dict:
    return {"conformsTo": list(CONFORMANCE)}


def collection_document(db, collection_id: str, viewer, root: str) -> dict:
    """One collection's description, its extent as ``viewer`` sees it."""
    title, description, filters = get_collection(collection_id)
    here = f"{root}/ogcapi/collections/{collection_id}"
    doc = {"id": collection_id, "title": title, "description": description, "itemType": "feature"}
    extent = feature_extent(db, **filters, **viewer.filters())
    if extent:
        minlon, minlat, maxlon, maxlat, first, last = extent
        doc["extent"] = {"spatial": {"bbox": [[minlon, minlat, maxlon, maxlat]], "crs": CRS84},
                         "temporal": {"interval": [[first, last]],
                                      "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}}
    doc["crs"] = crs_uris(root)
    doc["storageCrs"] = CRS84
    doc["links"] = [_link(here, "self", JSON, "本集合（JSON）"),
                    _link(here + "?f=html", "alternate", HTML, "本集合（网页）"),
                    _link(here + "/items", "items", GEOJSON, "要素（GeoJSON）"),
                    _link(here + "/items?f=html", "items", HTML, "要素（网页）"),
                    _link(here + "/schema", "describedby", SCHEMA, "要素属性的 JSON Schema")]
    return doc


def collections_document(db, viewer, root: str) -> dict:
    base = root + "/ogcapi/collections"
    return {"links": [_link(base, "self", JSON, "集合列表（JSON）"),
                      _link(base + "?f=html", "alternate", HTML, "集合列表（网页）")],
            "collections": [collection_document(db, cid, viewer, root) for cid in COLLECTIONS],
            "crs": crs_uris(root)}


def schema_document(collection_id: str, viewer, root: str) -> dict:
    """The JSON Schema of a collection's feature properties (personal fields only for a
    viewer who may see some)."""
    title, _, _ = get_collection(collection_id)
    text = {"type": ["string", "null"]}
    when = {"type": ["string", "null"], "format": "date-time"}
    props = {name: {**text, "title": LABELS[name]}
             for name in ("name", "address", "district", "subdistrict", "host_union", "hours",
                          "hours_text", "hours_zh")}
    props["name"]["type"] = "string"
    props["host_union_id"] = {"type": ["integer", "null"], "title": LABELS["host_union_id"]}
    props["station_type"] = {"type": "string", "title": LABELS["station_type"], "enum": list(STATION_TYPES)}
    props["status"] = {"type": "string", "title": LABELS["status"], "enum": list(STATUSES)}
    props["facilities"] = {"type": "array", "title": LABELS["facilities"],
                           "items": {"type": "string", "enum": list(FACILITIES)}}
    props["awards"] = {"type": "array", "title": LABELS["awards"]}
    props["synthetic"] = {"type": "boolean", "title": LABELS["synthetic"]}
    for name in ("created_at", "updated_at", "last_verified_at"):
        props[name] = {**when, "title": LABELS[name]}
    if viewer.sees_personal:
        for name in PERSONAL:
            props[name] = {**text, "title": LABELS[name]}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{root}/ogcapi/collections/{collection_id}/schema",
            "title": title, "type": "object", "properties": props}


def gcj02_document(root: str) -> dict:
    """What the GCJ-02 CRS URI of this service names."""
    return {"id": root + "/ogcapi/crs/gcj02", "name": "GCJ-02",
            "title": "GCJ-02 火星坐标（高德、腾讯底图所用）",
            "description": "GCJ-02 是在 WGS-84 经纬度上加的一种非线性偏移，高德、腾讯等国内底图用它；"
                           "它没有 EPSG 编码，本服务以此 URI 指代。坐标顺序为经度在前、纬度在后，单位为度。"
                           "本服务按公开的 GCJ-02 算法由 WGS-84 换算（逆算迭代，误差远小于 1 厘米）；"
                           "中国境外不加偏移。",
            "baseCrs": CRS84, "axisOrder": ["longitude", "latitude"]}
