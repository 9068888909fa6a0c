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
from branca.element import Element, MacroElement
from jinja2 import Template

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
                        "\\": "&#92;", "\u2028": "&#8232;", "\u2029": "&#8233;",
                        # Control characters (text stored before the door refused them, a
                        # kept upload): a browser reads NUL as U+FFFD and CR as LF in an
                        # inline script, so the script would no longer match its CSP hash
                        # and the whole map would be blocked.
                        "\r": "\n", "\x7f": "\ufffd",
                        **{chr(c): "\ufffd" for c in range(32) if chr(c) not in "\t\n\r"}})


def safe_label(text) -> str:
    """Text made inert for any folium/branca element, shown as HTML.

    HTML-escaped (so ``</script>`` and tags are text), then ``{ } $ ` \\`` and the
    JavaScript line separators turned into character references.

    Examples
    --------
    >>> safe_label("{{7*7}} ${x}")
    '&#123;&#123;7*7&#125;&#125; &#36;&#123;x&#125;'
    """
    text = "" if text is None else str(text).replace("\r\n", "\n")
    return html.escape(text, quote=True).translate(_INERT)


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


TILES_FAILED = "地图底图加载不出来（网络不通或太慢），站点位置请看地址或用导航打开地图 App。"
NO_SCRIPT = "地图需要开启 JavaScript 才能显示。"
TILES_PATIENCE_MS = 8000  # no tile after this long: say so (unreachable hosts often hang)
# Leaflet's zoom buttons as 44×44 px tap targets (WCAG 2.5.5), like the rest of the site.
BIG_ZOOM = ("<style>.leaflet-container.leaflet-touch .leaflet-bar a,.leaflet-container .leaflet-bar a"
            "{width:44px;height:44px;line-height:44px;font-size:22px}</style>")


class _MapExtras(MacroElement):
    """What every map of ours adds to Leaflet's defaults: a metric-only scale, a plain
    attribution prefix (Leaflet's own carries a flag), and a visible note when the
    tiles fail or none has come after TILES_PATIENCE_MS (a blocked host often hangs
    rather than fails) instead of a grey box; the note goes when a tile arrives.  The
    note is passed through safe_label."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map, layer) {
            L.control.scale({metric: true, imperial: false}).addTo(map);
            map.attributionControl.setPrefix("Leaflet");
            var loaded = 0, shown = false, note = null;
            layer.on("tileload", function () {
                loaded++;
                if (note) { map.removeControl(note); note = null; }
            });
            layer.on("tileerror", failed);
            setTimeout(failed, {{ this.patience_ms }});
            function failed() {
                if (shown || loaded) return;
                shown = true;
                note = L.control({position: "bottomleft"});
                note.onAdd = function () {
                    var div = L.DomUtil.create("div", "tiles-failed");
                    div.setAttribute("role", "alert");
                    div.style.cssText = "background:#fff8e1;border:1px solid #f0c36d;padding:4px 8px;" +
                        "font:14px/1.4 sans-serif;max-width:16em";
                    div.innerHTML = {{ this.note|tojson }};
                    return div;
                };
                note.addTo(map);
            }
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, layer):
        super().__init__()
        self._name = "MapExtras"
        self.layer = layer
        self.note = safe_label(TILES_FAILED)
        self.patience_ms = TILES_PATIENCE_MS


def _base_map(center_latlon, zoom, tiles, static_url):
    spec = TILES[tiles]
    fmap = folium.Map(location=center_latlon, zoom_start=zoom, tiles=None,
                      control_scale=False, prefer_canvas=True)
    fmap.default_js = [("leaflet", static_url + "leaflet.js")]
    fmap.default_css = [("leaflet_css", static_url + "leaflet.css")]
    layer = folium.TileLayer(spec["url"], attr=spec["attr"], max_zoom=19,
                             subdomains=spec.get("subdomains", "abc"))
    layer.add_to(fmap)
    fmap.add_child(_MapExtras(layer))
    fmap.get_root().header.add_child(Element(BIG_ZOOM))
    fmap.get_root().html.add_child(Element(f"<noscript><p>{safe_label(NO_SCRIPT)}</p></noscript>"))
    return fmap


def station_map_html(station: dict, *, tiles: str = "osm",
                     static_url: str = "/static/vendor/leaflet/") -> str:
    """A small standalone HTML map of one station."""
    where = to_latlon(station["lon"], station["lat"], tiles)
    fmap = _base_map(where, 16, tiles, static_url)
    # A tooltip, not a folium Popup (folium's popups need jQuery); closed until the
    # marker is tapped, so it covers neither the marker nor the zoom buttons.
    label = safe_label(station["name"])
    if station.get("address"):
        label += "<br>" + safe_label(station["address"])
    folium.CircleMarker(where, radius=12, color="#c0392b", fill=True, fill_opacity=0.9,
                        tooltip=folium.Tooltip(label, permanent=False, direction="top",
                                               sticky=False)).add_to(fmap)
    return fmap.get_root().render()
