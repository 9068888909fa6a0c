"""Rendering maps with folium: the one module that imports it.

Leaflet is served from our own static files (no CDN: riders behind slow or closed
networks still get a map).  Points are converted from stored WGS-84 to the datum
of the tile layer here, at the edge, and nowhere else.

Every text that reaches a folium/branca element (names, addresses, districts,
unions, layer names, GeoJSON properties shown in tooltips) passes through
``safe_label`` (or ``safe_properties`` for data).  Two traps make plain HTML
escaping insufficient:

- branca renders an element's script, then wraps the output in a new ``Element``
  whose text is *compiled again as a Jinja template* when the page renders.  A
  name containing ``{{ … }}`` would be evaluated on the server (template
  injection: ``{{lipsum.__globals__.os.popen('id').read()}}`` runs a command),
  and ``{#`` or ``{% raw %}`` breaks the render.  So ``{`` and ``}`` become
  character references: nothing Jinja can see survives.
- folium places tooltip and popup text inside JavaScript template literals,
  where ``${…}``, a backtick or a backslash would be interpreted.

Character references render as the original characters wherever the text is
shown as HTML (tooltips, popups, layer control labels), so riders still read the
name exactly as it was stored.
"""

from __future__ import annotations

import html

import folium

from geodata.datum import from_wgs84

__all__ = ["TILES", "js_safe_text", "safe_label", "safe_properties", "station_map_html",
           "to_latlon"]

TILES = {
    "osm": {"datum": "wgs84",
            "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attr": "&copy; OpenStreetMap contributors"},
    "amap": {"datum": "gcj02",
             "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                    "&style=8&x={x}&y={y}&z={z}",
             "attr": "&copy; 高德地图", "subdomains": "1234"},
}


# After html.escape: what Jinja (re-compiling branca output) or a JS template literal
# would interpret.  "{" and "}" cover {{ }}, {% %} and {# #}; "$" covers ${…}.
_INERT = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;",
                        "\\": "&#92;", "\u2028": "&#8232;", "\u2029": "&#8233;"})


def safe_label(text) -> str:
    """Text made inert for any folium/branca element, shown as HTML.

    HTML-escaped (so ``</script>`` and tags are text), then ``{ } $ ` \\`` and the
    JavaScript line separators turned into character references.

    Examples
    --------
    >>> safe_label("{{7*7}} ${x}")
    '&#123;&#123;7*7&#125;&#125; &#36;&#123;x&#125;'
    """
    return html.escape("" if text is None else str(text), quote=True).translate(_INERT)


js_safe_text = safe_label  # the older name, kept for callers and tests


def safe_properties(value):
    """``safe_label`` applied to every string inside GeoJSON-like data (dicts, lists).

    Use it for feature properties that a tooltip or popup shows: folium embeds them
    with ``tojson`` inside a script that branca compiles again as a template.
    """
    if isinstance(value, str):
        return safe_label(value)
    if isinstance(value, dict):
        return {safe_properties(k) if isinstance(k, str) else k: safe_properties(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_properties(v) for v in value]
    return value


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
    label = safe_label(station["name"])
    if station.get("address"):
        label += "<br>" + safe_label(station["address"])
    folium.CircleMarker(where, radius=9, color="#c0392b", fill=True, fill_opacity=0.9,
                        tooltip=folium.Tooltip(label, permanent=True, direction="top")).add_to(fmap)
    return fmap.get_root().render()
