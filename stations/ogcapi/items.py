"""Features: one page of a collection's items with next/prev links, and one item."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from ..registry.exporter import station_feature
from ..riders.nearest import index_for
from ..storage import TZ, StationNotFound, feature_page, get_station
from .collections import GEOJSON, HTML, JSON, get_collection
from .crs import CRS84, from_wgs84_in
from .query import ItemsQuery, OgcError, encode_cursor
from ..unions.store import find_union

__all__ = ["item_document", "items_document", "open_station_ids"]


def open_station_ids(db, at: datetime | None = None) -> set:
    """Ids of the stations open at ``at`` (default now, Beijing time): active, with hours
    that say so (unknown hours are not open).  Read from the nearest-search index, which
    the process keeps until a station changes and which asks each timetable once a minute."""
    return set(index_for(db).open_ids(at or datetime.now(TZ)).tolist())


def _feature(row: dict, viewer, crs: str) -> dict:
    feature = station_feature(row, "wgs84", private=viewer.private_for(row))
    if crs != CRS84:  # CRS84 is the record's own WGS-84 lon/lat, already rounded
        feature["geometry"]["coordinates"] = from_wgs84_in(crs, row["lon"], row["lat"])
    return feature


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def items_document(db, collection_id: str, query: ItemsQuery, viewer, root: str,
                   at: datetime | None = None) -> dict:
    """A page of ``collection_id`` as ``viewer`` sees it: a GeoJSON FeatureCollection with
    ``numberMatched``, ``numberReturned``, ``timeStamp`` and self/alternate/next/prev links
    (next and prev carry an opaque cursor: cheap at any depth)."""
    _, _, filters = get_collection(collection_id)
    only_ids = exclude_ids = None
    if query.open_now is not None:  # hours are read in Python, the ids then go to SQL
        open_ids = open_station_ids(db, at)
        only_ids, exclude_ids = (open_ids, None) if query.open_now else (None, open_ids)
    rows, matched = feature_page(
        db, after_id=query.after_id, before_id=query.before_id, offset=query.offset,
        limit=query.limit + 1, **filters, **viewer.filters(), only_ids=only_ids, exclude_ids=exclude_ids,
        district=query.district, status=query.status, facility=query.facilities, bbox=query.bbox,
        host_union=_union_filter(db, query), updated_from=query.updated_from, updated_to=query.updated_to)
    backwards = query.before_id is not None
    more = len(rows) > query.limit
    if more:
        rows = rows[1:] if backwards else rows[:-1]
    has_next = more if not backwards else True
    has_prev = more if backwards else (query.after_id is not None or query.offset > 0)
    here = f"{root}/ogcapi/collections/{collection_id}/items"

    def url(**extra):
        args = {**query.kept, **extra}
        return here + ("?" + urlencode(args) if args else "")

    this = {k: v for k, v in (("cursor", _this_cursor(query)), ("offset", query.offset or None)) if v}
    links = [{"href": url(**this), "rel": "self", "type": GEOJSON, "title": "本页（GeoJSON）"},
             {"href": url(**this, f="html"), "rel": "alternate", "type": HTML, "title": "本页（网页）"}]
    if rows and has_next:
        links.append({"href": url(cursor=encode_cursor("a", rows[-1]["id"])), "rel": "next",
                      "type": GEOJSON, "title": "下一页"})
    if rows and has_prev:
        links.append({"href": url(cursor=encode_cursor("b", rows[0]["id"])), "rel": "prev",
                      "type": GEOJSON, "title": "上一页"})
    links.append({"href": f"{root}/ogcapi/collections/{collection_id}", "rel": "collection",
                  "type": JSON, "title": "所属集合"})
    return {"type": "FeatureCollection", "timeStamp": _now(), "numberMatched": matched,
            "numberReturned": len(rows),
            "features": [_feature(row, viewer, query.crs) for row in rows], "links": links}


def _this_cursor(query: ItemsQuery) -> str | None:
    if query.after_id is not None:
        return encode_cursor("a", query.after_id)
    if query.before_id is not None:
        return encode_cursor("b", query.before_id)
    return None


def item_document(db, collection_id: str, feature_id: str, crs: str, viewer, root: str) -> dict:
    """One station of a collection as a GeoJSON Feature, if ``viewer`` may see it; OgcError
    404 otherwise (a station that is hidden is not found, as on the public API)."""
    _, _, filters = get_collection(collection_id)
    missing = OgcError(None, f"集合 {collection_id} 中没有编号为 {str(feature_id)[:20]} 的站点", 404)
    if not str(feature_id).isdigit():
        raise missing
    try:
        row = get_station(db, int(feature_id), private=True)
    except StationNotFound:
        raise missing from None
    visible = (viewer.statuses is None or row["status"] in viewer.statuses or row["id"] in viewer.also_ids)
    if not visible or (filters.get("awarded") and not row.get("awards")):
        raise missing
    feature = _feature(row, viewer, crs)
    here = f"{root}/ogcapi/collections/{collection_id}"
    feature["links"] = [
        {"href": f"{here}/items/{row['id']}", "rel": "self", "type": GEOJSON, "title": "本要素（GeoJSON）"},
        {"href": f"{here}/items/{row['id']}?f=html", "rel": "alternate", "type": HTML, "title": "本要素（网页）"},
        {"href": here, "rel": "collection", "type": JSON, "title": "所属集合"}]
    return feature


def _union_filter(db, query):
    """The host union asked for, as an id: ``host_union`` (a name or alias, any bracket
    width) and ``host_union_id`` must agree; an unknown name matches no station (-1)."""
    union_id = query.host_union_id
    if query.host_union is not None:
        union = find_union(db, query.host_union)
        named = union["id"] if union else -1
        union_id = named if union_id in (None, named) else -1
    return union_id
