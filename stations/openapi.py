"""The OpenAPI 3.1 document of API v1, as plain data."""

from __future__ import annotations

from .campaign.openapi import QIYOU_SCHEMA, campaign_paths, campaign_schemas
from .ledger.openapi import ledger_paths, ledger_schemas
from .registry.records import FACILITIES, STATION_TYPES, STATUSES
from .text import SCHEMA_PATTERN
from .unions.openapi import union_paths, union_schemas

__all__ = ["openapi_document"]


def _param(name, description, schema, required=False):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


DATUM = _param("datum", "Datum of coordinates in and out.",
               {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"})
AWARDED = _param("awarded", "1: only stations with an award on their record (获奖); 0 or absent: all",
                 {"type": "integer", "enum": [0, 1]})
MIN_QIYOU = _param("min_qiyou", "Only stations whose latest 七有 checklist totals at least this (0–100); "
                                "stations without a checklist are left out",
                   {"type": "number", "minimum": 0, "maximum": 100})
ERROR = {"description": "Bad parameter", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _coverage_path() -> dict:
    number = {"type": "number"}
    return {"get": {
        "summary": "Coverage figures per district and overall (planner or admin)",
        "description": "The service circle's radius is minutes × speed ÷ detour; shares are 0–1, "
                       "areas in km² measured in an equal-area projection, distances in metres. "
                       "Only active stations count (optionally only those open at `at`, or 24-hour).",
        "parameters": [
            _param("minutes", "Minutes of travel (1–120)",
                   {**number, "minimum": 1, "maximum": 120, "default": 15}),
            _param("mode", "walk (5 km/h) or ebike (15 km/h)",
                   {"type": "string", "enum": ["walk", "ebike"], "default": "walk"}),
            _param("speed_kmh", "Speed in km/h (1–60), overriding the mode's",
                   {**number, "minimum": 1, "maximum": 60}),
            _param("detour", "Street distance ÷ straight-line distance (1–3)",
                   {**number, "minimum": 1, "maximum": 3, "default": 1.3}),
            {**_param("district", "District name; repeat or comma-separate for several (all if none)",
                      {"type": "array", "items": {"type": "string"}}), "explode": True},
            _param("demand", "Name of an uploaded demand layer (uniform over the area if none)",
                   {"type": "string"}),
            _param("cell_m", "Grid cell size in metres (20–5000; the grid has a cell limit, so "
                             "small cells need fewer districts)",
                   {**number, "minimum": 20, "maximum": 5000, "default": 100}),
            _param("at", "Count only stations open at this local time, e.g. 2026-11-24T20:00",
                   {"type": "string", "pattern": ISO_TIME}),
            _param("only_24h", "Count only 24-hour stations (1/true)", {"type": "string"}),
            _param("network", "Measure along this stored street network's streets (`yizhan network "
                              "import`): places join the nearest street within 300 m, travel is street "
                              "length at the mode's speed (no detour); places outside the network's "
                              "extent are left out of the shares (`outside_network_share`)",
                   {"type": "string"}),
        ],
        "security": [{"bearerAuth": []}, {"basicAuth": []}, {"session": []}],
        "responses": {"200": {"description": "Figures", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/CoverageAnswer"}}}},
                      "400": ERROR, "401": {"description": "Not logged in"},
                      "403": {"description": "Not a planner or admin"}}}}


def _coverage_schemas() -> dict:
    share = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    metres = {"type": ["number", "null"]}
    figures = {"type": "object", "required": [
        "stations", "area_km2", "covered_share", "double_covered_share", "demand_covered_share",
        "demand_double_covered_share", "mean_distance_m", "p90_distance_m"], "properties": {
        "stations": {"type": "integer", "description": "active stations standing in the area"},
        "area_km2": {"type": "number"}, "stations_per_km2": {"type": "number"},
        "covered_share": share, "double_covered_share": share,
        "demand_covered_share": share, "demand_double_covered_share": share,
        "mean_distance_m": metres, "p90_distance_m": metres,
        "demand_total": {"type": ["number", "null"], "description": "km² for uniform demand, else weight"},
        "outside_network_share": {**share, "description": "with `network`: share of the area outside "
                                                          "the network's extent (left out of the shares)"}}}
    return {
        "CoverageFigures": figures,
        "CoverageAnswer": {"type": "object", "required": ["params", "overall", "districts"], "properties": {
            "params": {"type": "object", "required": ["radius_m"], "properties": {
                "minutes": {"type": "number"}, "mode": {"type": "string"}, "speed_kmh": {"type": "number"},
                "detour": {"type": "number"}, "radius_m": {"type": "number"},
                "districts": {"type": "array", "items": {"type": "string"}},
                "demand": {"type": ["string", "null"]}, "cell_m": {"type": "number"},
                "at": {"type": ["string", "null"]}, "only_24h": {"type": "boolean"},
                "region": {"type": "string"}, "demand_unit": {"type": "string"},
                "network": {"type": "string"}, "reach_m": {"type": "number",
                                                            "description": "metres along the streets"}}},
            "overall": {"$ref": "#/components/schemas/CoverageFigures"},
            "districts": {"type": "array", "items": {"allOf": [
                {"$ref": "#/components/schemas/CoverageFigures"},
                {"type": "object", "required": ["district"], "properties": {"district": {"type": "string"}}}]}},
        }},
    }


_CODE = "(" + "|".join(FACILITIES) + ")"
FACILITY_LIST = f"^({_CODE}(,{_CODE})*)?$"
# 2026-11-24T21:30, with seconds, fractions and an offset optional (local time without one);
# a day the month does not have (02-30) is a 400.
ISO_TIME = (r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
            r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?$")
# Four decimal numbers; the ranges and min ≤ max are checked by the API (400).
BBOX_PATTERN = r"^-?[0-9]{1,3}(\.[0-9]+)?(,-?[0-9]{1,3}(\.[0-9]+)?){3}$"
WRITE_ERRORS = {
    "401": {"description": "Not logged in"}, "403": {"description": "Not an admin"},
    "404": {"description": "No such station"},
    "413": {"description": "Body larger than YIZHAN_MAX_UPLOAD_MB"},
    "429": {"description": "Too many failed logins (Retry-After)"},
    "503": {"description": "Database busy (an import or restore); retry after Retry-After"},
}


def station_input(properties: dict) -> dict:
    """A write's body: a GeoJSON Feature with a Point, or a plain object of fields
    (``lon``/``lat`` instead of the geometry).  Which fields a station needs, and where
    it may stand, the API checks (400 naming each field)."""
    fields = {"type": "object", "properties": {
        **{k: v for k, v in properties.items()
           if k not in ("hours_zh", "synthetic", "created_at", "updated_at")},
        "lon": {"type": "number"}, "lat": {"type": "number"},
        "manager": {"type": ["string", "null"]}, "manager_phone": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"], "maxLength": 500,
                 "description": "Private note (备注; may hold names and phone numbers): "
                                "returned only to admins, never in public answers"},
        "datum": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]}}}
    point = {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"const": "Point"},
        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2,
                        "maxItems": 2}}}
    feature = {"type": "object", "required": ["type"], "properties": {
        "type": {"const": "Feature"}, "geometry": point, "properties": fields}}
    return {"oneOf": [feature, {**fields, "not": {"required": ["type"]}}]}


def openapi_document() -> dict:
    return _plain_text_requests(_document())


def _document() -> dict:
    properties = {
        "name": {"type": "string"}, "address": {"type": "string"},
        "district": {"type": ["string", "null"]}, "subdistrict": {"type": ["string", "null"]},
        "host_union": {"type": ["string", "null"], "description": "The host union's name (所属工会)"},
        "host_union_id": {"type": ["integer", "null"], "description": "The host union's id (GET /api/v1/unions)"},
        "station_type": {"type": "string", "enum": list(STATION_TYPES)},
        "hours": {"type": ["string", "null"],
                  "description": "Opening hours, OSM-style text, e.g. 'Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00'"},
        "hours_text": {"type": ["string", "null"],
                       "description": "The opening hours as the organiser typed them (null when "
                                      "they typed the OSM-style form); shown to riders"},
        "hours_zh": {"type": "string"},
        "facilities": {"type": "array", "items": {"type": "string", "enum": list(FACILITIES)}},
        "status": {"type": "string", "enum": list(STATUSES)},
        "awards": {"type": "array", "items": {}},
        "qiyou": QIYOU_SCHEMA,
        "synthetic": {"type": "boolean", "description": "true for generated demo data"},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
        "last_verified_at": {"type": ["string", "null"]},
    }
    feature = {"type": "object", "required": ["type", "id", "geometry", "properties"],
               "properties": {"type": {"const": "Feature"}, "id": {"type": "integer"},
                              "geometry": {"type": "object", "properties": {
                                  "type": {"const": "Point"},
                                  "coordinates": {"type": "array", "items": {"type": "number"},
                                                  "minItems": 2, "maxItems": 2}}},
                              "properties": {"type": "object", "properties": properties}}}
    station_id = {"name": "station_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    json_feature = {"application/json": {"schema": {"$ref": "#/components/schemas/Feature"}}}
    json_input = {"application/json": {"schema": {"$ref": "#/components/schemas/StationInput"}}}
    write = {"requestBody": {"required": True, "content": json_input},
             "security": [{"basicAuth": []}, {"session": []}]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Yizhan 驿站 API", "version": "1.0.0",
                 "description": "Trade-union service stations for outdoor workers. Coordinates "
                                "are stored in WGS-84; pass datum=gcj02 or bd09 to read or write "
                                "in Amap/Tencent or Baidu coordinates. Manager names and phone "
                                "numbers are never in public answers."},
        "paths": {
            "/api/v1/stations": {
                "get": {"summary": "Search stations", "parameters": [
                    _param("q", "Substring of name or address", {"type": "string"}),
                    _param("district", "District name, e.g. 朝阳区", {"type": "string"}),
                    _param("status", "Status", {"type": "string",
                                                "enum": ["active", "temporarily_closed", "closed"]}),
                    _param("facility", "Facility codes, comma-separated; all must be present",
                           {"type": "string", "pattern": FACILITY_LIST}),
                    _param("bbox", "minlon,minlat,maxlon,maxlat (in the given datum; "
                                   "longitudes -180..180, latitudes -90..90, min ≤ max)",
                           {"type": "string", "pattern": BBOX_PATTERN}),
                    AWARDED, MIN_QIYOU,
                    DATUM,
                    _param("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                  "default": 100}),
                    _param("offset", "Rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
                ], "responses": {"200": {"description": "GeoJSON FeatureCollection with total",
                                         "content": {"application/json": {"schema": {
                                             "$ref": "#/components/schemas/FeatureCollection"}}}},
                                 "400": ERROR}},
                "post": {"summary": "Create a station (admin)", "parameters": [DATUM],
                         "responses": {"201": {"description": "Created", "content": json_feature},
                                       "400": ERROR, **WRITE_ERRORS}, **write},
            },
            "/api/v1/coverage": _coverage_path(),
            **campaign_paths(),
            **ledger_paths(),
            **union_paths(),
            "/api/v1/nearest": {
                "get": {"summary": "The nearest stations to a point (riders)", "parameters": [
                    _param("lon", "Longitude of the rider",
                           {"type": "number", "minimum": -180, "maximum": 180}, required=True),
                    _param("lat", "Latitude of the rider",
                           {"type": "number", "minimum": -90, "maximum": 90}, required=True),
                    DATUM,
                    _param("k", "How many", {"type": "integer", "minimum": 1, "maximum": 50,
                                             "default": 5}),
                    _param("radius_m", "Only stations within this distance (metres)",
                           {"type": "number", "minimum": 0, "maximum": 50000}),
                    _param("open_now", "Only stations open at `at`", {"type": "integer",
                                                                      "enum": [0, 1]}),
                    _param("open_24h", "Only 24-hour stations", {"type": "integer", "enum": [0, 1]}),
                    _param("at", "ISO time (default now; naive times are Asia/Shanghai)",
                           {"type": "string", "pattern": ISO_TIME}),
                    _param("facilities", "Facility codes, comma-separated; all must be present",
                           {"type": "string", "pattern": FACILITY_LIST}),
                    _param("status", "Station status, or `any`", {"type": "string", "enum": [
                        "active", "temporarily_closed", "closed", "any"], "default": "active"}),
                    AWARDED, MIN_QIYOU,
                    _param("by", "Rank by straight line (default) or along the streets of a stored "
                                 "street network covering the point (`network`): results then carry "
                                 "`network_m` and `network_minutes` (at the `mode`'s speed); where no network "
                                 "covers the point the straight line answers and `query.by` says so; see `mode`",
                           {"type": "string", "enum": ["straight", "network"], "default": "straight"}),
                    _param("network", "With by=network: the street network's name (the first covering "
                                      "the point if none)", {"type": "string"}),
                    _param("mode", "With by=network: `walk` (default; 5 km/h) or `ebike` (the e-bike "
                                   "network, one-way streets respected; `network_minutes` at 15 km/h)",
                           {"type": "string", "enum": ["walk", "ebike"], "default": "walk"}),
                ], "responses": {"200": {"description": "Results nearest first; distances are "
                                                        "haversine on the WGS-84 mean sphere",
                                         "content": {"application/json": {"schema": {
                                             "$ref": "#/components/schemas/NearestAnswer"}}}},
                                 "400": ERROR}},
            },
            "/api/v1/stations/{station_id}": {
                "get": {"summary": "One station", "parameters": [station_id, DATUM],
                        "responses": {"200": {"description": "Feature", "content": json_feature},
                                      "400": ERROR, "404": {"description": "No such station"}}},
                "patch": {"summary": "Change some fields (admin)", "parameters": [station_id, DATUM],
                          "responses": {"200": {"description": "Changed", "content": json_feature},
                                        "400": ERROR, **WRITE_ERRORS}, **write},
                "put": {"summary": "Replace a station's fields (admin)",
                        "parameters": [station_id, DATUM],
                        "responses": {"200": {"description": "Changed", "content": json_feature},
                                      "400": ERROR, **WRITE_ERRORS}, **write},
            },
        },
        "components": {
            "schemas": {
                "Feature": feature,
                "StationInput": station_input(properties),
                "FeatureCollection": {"type": "object", "properties": {
                    "type": {"const": "FeatureCollection"},
                    "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
                    "total": {"type": "integer"}, "limit": {"type": "integer"},
                    "offset": {"type": "integer"}, "datum": {"type": "string"}}},
                "NearestAnswer": {"type": "object", "properties": {
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "station": {"$ref": "#/components/schemas/Feature"},
                        "distance_m": {"type": "number"}, "walk_minutes": {"type": "integer"},
                        "network_m": {"type": "number"}, "network_minutes": {"type": "integer"},
                        "open_now": {"type": ["boolean", "null"]}}}},
                    "query": {"type": "object"}}},
                **_coverage_schemas(),
                **campaign_schemas(),
                **ledger_schemas(),
                **union_schemas(),
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "parameter": {"type": "string"},
                    "message": {"type": "string"}}}}},
            },
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A per-user token from `yizhan user token NAME`; no CSRF token needed."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "A logged-in session; send X-CSRFToken on writes."},
            },
        },
    }


def _plain_text_requests(doc: dict) -> dict:
    """Every free-text string a request may carry (parameters and bodies, with the schemas
    they refer to) promises the text rule the server applies to each one
    (``stations.text``): no control characters but tab and line breaks.  Strings already
    bound by an enum, a const, a pattern or a format keep their own rule."""
    components = doc.get("components", {}).get("schemas", {})
    seen = set()

    def visit(schema):
        if isinstance(schema, list):
            for item in schema:
                visit(item)
            return
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in components:
                seen.add(name)
                visit(components[name])
            return
        kind = schema.get("type")
        if (kind == "string" or (isinstance(kind, list) and "string" in kind)) and not (
                {"enum", "const", "pattern", "format"} & set(schema)):
            schema["pattern"] = SCHEMA_PATTERN
        for key, value in schema.items():
            if key in ("properties", "patternProperties", "$defs"):
                for sub in value.values():
                    visit(sub)
            elif key in ("items", "additionalProperties", "not", "contains", "oneOf", "anyOf", "allOf",
                         "prefixItems"):
                visit(value)

    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                visit(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media.get("schema"))
    return doc

