"""The registry as a live OGC API – Features layer (Part 1 Core, Part 2 CRS by reference).

What arrives: an items request's query string as a GIS client sends it (QGIS, ArcGIS Pro,
GDAL's OAPIF driver, OWSLib), and who is asking (a Viewer: the public, or a signed-in
user whose role may see more).  What leaves: plain dicts of the OGC documents, the web
layer's to serialise as JSON or render as Chinese pages.  One job per module:

* ``crs`` — the four CRSs offered (CRS84, EPSG:4326, EPSG:4490, GCJ-02) and conversions;
* ``query`` — reading an items request (paging, cursor, bbox, datetime, filters), OgcError;
* ``visibility`` — who sees which stations and personal fields (the registry's own rules);
* ``collections`` — the collections, landing, conformance and the properties' JSON Schema;
* ``items`` — a page of features with next/prev links, one feature;
* ``openapi`` — the OpenAPI 3.0 document of ``/ogcapi``.

The core imports no Flask; storage is reached through ``storage.feature_page``.
"""

from .collections import (
                          COLLECTIONS,
                          CONFORMANCE,
                          GEOJSON,
                          HTML,
                          JSON,
                          LABELS,
                          OPENAPI,
                          SCHEMA,
                          collection_document,
                          collections_document,
                          conformance_document,
                          gcj02_document,
                          get_collection,
                          landing_document,
                          schema_document,
)
from .crs import CRS84, CrsError, crs_label, crs_uri, crs_uris, parse_crs
from .items import item_document, items_document, open_station_ids
from .openapi import openapi_document
from .query import (
                          ITEM_PARAMETERS,
                          MAX_LIMIT,
                          ItemsQuery,
                          OgcError,
                          parse_items_query,
                          parse_plain_query,
)
from .visibility import Viewer, viewer_for

__all__ = ["COLLECTIONS", "CONFORMANCE", "CRS84", "GEOJSON", "HTML", "ITEM_PARAMETERS", "JSON", "LABELS", "MAX_LIMIT", "OPENAPI",
           "SCHEMA", "CrsError", "ItemsQuery", "OgcError", "Viewer", "collection_document",
           "collections_document", "conformance_document", "crs_label", "crs_uri", "crs_uris",
           "gcj02_document", "get_collection", "item_document", "items_document", "landing_document",
           "open_station_ids", "openapi_document", "parse_crs", "parse_items_query",
           "parse_plain_query", "schema_document", "viewer_for"]
