"""Rendering maps with folium: the one module that imports it.

Leaflet is served from our own static files (no CDN: riders behind slow or closed
networks still get a map).  Points are converted from stored WGS-84 to the datum
of the tile layer here, at the edge, and nowhere else.  Text shown in popups and
tooltips passes through ``js_safe_text``: folium builds them inside JavaScript
template literals, where HTML escaping alone does not stop ``${…}`` or a backtick.
"""

from __future__ import annotations

import html

import folium

from geodata.datum import from_wgs84

__all__ = ["TILES", "js_safe_text", "station_map_html", "to_latlon"]

TILES = {
    "osm": {"datum": "wgs84",
            "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attr": "&copy; OpenStreetMap contributors"},
    "amap": {"datum": "gcj02",
             "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                    "&style=8&x={x}&y={y}&z={z}",
             "attr": "&copy; 高德地图", "subdomains": "1234"},
}


def js_safe_text(text) -> str:
    """HTML-escape, then neutralise what a JS template literal would interpret."""
    escaped = html.escape(str(text or ""), quote=True)
    return escaped.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


def to_latlon(lon: float, lat: float, tiles: str = "osm") -> list[float]:
    """WGS-84 (lon, lat) to the [lat, lon] that folium wants, in the tiles' datum."""
    x, y = from_wgs84(lon, lat, TILES[tiles]["datum"])
    return [y, x]


def _base_map(center_latlon, zoom, tiles, static_url):
    spec = TILES[tiles]
    fmap = folium.Map(location=center_latlon, zoom_start=zoom, tiles=None,
                      control_scale=True, prefer_canvas=True)
    fmap.default_js = [("leaflet", static_url + "leaflet.js")]
    fmap.default_css = [("leaflet_css", static_url + "leaflet.css")]
    folium.TileLayer(spec["url"], attr=spec["attr"], max_zoom=19,
                     subdomains=spec.get("subdomains", "abc")).add_to(fmap)
    return fmap


def station_map_html(station: dict, *, tiles: str = "osm",
                     static_url: str = "/static/vendor/leaflet/") -> str:
    """A small standalone HTML map of one station."""
    where = to_latlon(station["lon"], station["lat"], tiles)
    fmap = _base_map(where, 16, tiles, static_url)
    # A permanent tooltip, not a folium Popup: folium's popups need jQuery.
    label = js_safe_text(station["name"])
    if station.get("address"):
        label += "<br>" + js_safe_text(station["address"])
    folium.CircleMarker(where, radius=9, color="#c0392b", fill=True, fill_opacity=0.9,
                        tooltip=folium.Tooltip(label, permanent=True, direction="top")).add_to(fmap)
    return fmap.get_root().render()
