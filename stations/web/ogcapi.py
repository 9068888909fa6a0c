"""/ogcapi: the registry as an OGC API – Features service (thin; documents live in stations.ogcapi).

Public, and a caller's Basic or bearer credentials (or a browser's session) are read, so a
signed-in role sees what it may (``stations.ogcapi.visibility``).  JSON for GIS clients,
Chinese pages for browsers (``f=json|html`` or the Accept header).
"""

import orjson
from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from .. import ogcapi as core
from ..registry.records import STATUSES
from .access import PUBLIC, allow
from .db import get_db
from .negotiate import ogcapi_wants_html

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")


@bp.errorhandler(core.OgcError)
def refused(exc):
    if ogcapi_wants_html():
        return render_template("error.html", code=exc.status, message=exc.message), exc.status
    body = {"status": exc.status, "message": exc.message}
    if exc.parameter:
        body["parameter"] = exc.parameter
    return jsonify(error=body), exc.status


def _root() -> str:
    """Where links point: YIZHAN_PUBLIC_URL when set (GIS clients follow them from outside),
    else the address the client used (so a desk on the office network can page too)."""
    return (current_app.config["YIZHAN_PUBLIC_URL"] or request.url_root).rstrip("/")


def _viewer():
    return core.viewer_for(get_db(), g.get("user"))


def _answer(doc, template, mimetype, *, allowed=frozenset({"f"}), headers=None, **context):
    """``doc`` as JSON of ``mimetype``, or the page ``ogcapi/<template>`` when a browser asks."""
    core.parse_plain_query(request.args, allowed)
    if request.args.get("f", "json") not in ("json", "html"):
        raise core.OgcError("f", f"不支持的格式 f={request.args['f'][:20]}：应为 json 或 html")
    if ogcapi_wants_html():
        response = Response(render_template(f"ogcapi/{template}", doc=doc, root=_root(), **context),
                            mimetype="text/html")
    else:
        response = Response(orjson.dumps(doc), mimetype=mimetype)
    response.headers.update(headers or {})
    response.vary.add("Accept")
    return response


@bp.get("/", strict_slashes=False)  # /ogcapi and /ogcapi/ (OWSLib adds the slash)
@allow(PUBLIC, credentials=True)
def landing():
    """The landing page: links to the API definition, conformance and collections."""
    return _answer(core.landing_document(_root()), "landing.html", core.JSON)


@bp.get("/conformance")
@allow(PUBLIC, credentials=True)
def conformance():
    """The conformance classes this service implements."""
    return _answer(core.conformance_document(), "conformance.html", core.JSON)


@bp.get("/api")
@allow(PUBLIC, credentials=True)
def api():
    """The OpenAPI 3.0 document of /ogcapi."""
    return _answer(core.openapi_document(_root()), "api.html", core.OPENAPI)


@bp.get("/collections")
@allow(PUBLIC, credentials=True)
def collections():
    """Every collection, with its extent as the caller sees it."""
    return _answer(core.collections_document(get_db(), _viewer(), _root()), "collections.html", core.JSON)


@bp.get("/collections/<collection_id>")
@allow(PUBLIC, credentials=True)
def collection(collection_id):
    """One collection: extent, CRSs, links to its items and schema."""
    doc = core.collection_document(get_db(), collection_id, _viewer(), _root())
    return _answer(doc, "collection.html", core.JSON)


@bp.get("/collections/<collection_id>/schema")
@allow(PUBLIC, credentials=True)
def schema(collection_id):
    """The JSON Schema of a collection's feature properties (``describedby``)."""
    return _answer(core.schema_document(collection_id, _viewer(), _root()), "schema.html", core.SCHEMA)


@bp.get("/collections/<collection_id>/items")
@allow(PUBLIC, credentials=True)
def items(collection_id):
    """A page of features: filters, bbox, datetime, crs, next/prev links."""
    query = core.parse_items_query(request.args)
    doc = core.items_document(get_db(), collection_id, query, _viewer(), _root())
    return _answer(doc, "items.html", core.GEOJSON, allowed=core.ITEM_PARAMETERS,
                   headers={"Content-Crs": f"<{core.crs_uri(query.crs, _root())}>"}, collection_id=collection_id,
                   title=core.get_collection(collection_id)[0], statuses=STATUSES)


@bp.get("/collections/<collection_id>/items/<feature_id>")
@allow(PUBLIC, credentials=True)
def item(collection_id, feature_id):
    """One feature (a station), in the CRS asked for."""
    core.parse_plain_query(request.args, frozenset({"f", "crs"}))
    try:
        crs = core.parse_crs(request.args.get("crs"))
    except core.CrsError:
        raise core.OgcError("crs", "不支持的坐标参考系：可用 CRS84（默认）、EPSG:4326、EPSG:4490 "
                                   "或 GCJ-02（/ogcapi/crs/gcj02）") from None
    doc = core.item_document(get_db(), collection_id, feature_id, crs, _viewer(), _root())
    return _answer(doc, "item.html", core.GEOJSON, allowed=frozenset({"f", "crs"}),
                   headers={"Content-Crs": f"<{core.crs_uri(crs, _root())}>"}, collection_id=collection_id,
                   title=core.get_collection(collection_id)[0], crs_label=core.crs_label(crs),
                   labels=core.LABELS)


@bp.get("/crs/gcj02")
@allow(PUBLIC)
def gcj02():
    """What this service's GCJ-02 CRS URI names."""
    return _answer(core.gcj02_document(_root()), "crs.html", core.JSON)
