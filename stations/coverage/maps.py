"""The planner's coverage map (folium): the one coverage module that imports folium.

``overlays`` builds every layer as plain data in the tile layer's datum (GCJ-02
for Amap: stations, circles, districts, hexagons and sites are all converted, so
they line up); ``plan_map_html`` draws them.  Stations are never inlined marker by
marker: their positions go in as one compact integer array that a small script
turns into a marker cluster (and, on demand, into service circles); a station's
name is fetched from the API when its marker is clicked and set as text.  For the
whole-China region the stations load by viewport from ``/api/v1/stations?bbox=``.
Every text put into an element passes through ``stations.maps.safe_label``.
Leaflet and Leaflet.markercluster are served from ``static/vendor`` (no CDN).
"""

from __future__ import annotations

import folium
import numpy as np
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from geodata.datum import from_wgs84_array

from ..maps import TILES, safe_label, safe_properties
from .gaps import hex_boundary

__all__ = ["overlays", "plan_map_html", "share_colour", "percent", "LEGEND_STEPS", "NO_SHARE"]

LEGEND_STEPS = [(0.0, "#b2182b"), (0.25, "#ef8a62"), (0.5, "#fddbc7"), (0.75, "#91bfdb"), (0.9, "#2166ac")]
NO_SHARE = "#bdbdbd"  # a district without demand points has no demand share
_QUANT = 1e4  # station positions to 1e-4 degree (about 10 m): enough to cluster, small to send


def share_colour(share) -> str:
    if share is None:
        return NO_SHARE
    colour = LEGEND_STEPS[0][1]
    for bound, c in LEGEND_STEPS:
        if share >= bound:
            colour = c
    return colour


def _convert(lons, lats, datum):
    return from_wgs84_array(lons, lats, datum)


def _convert_geometry(geometry, datum):
    if datum == "wgs84":
        return geometry
    return shapely.transform(geometry, lambda xy: np.column_stack(_convert(xy[:, 0], xy[:, 1], datum)))


def percent(share) -> str:
    """A share as the page shows it: 0.5771 -> '57.7%'; None -> '-'."""
    return "-" if share is None else f"{share * 100:.1f}%"


def overlays(coverage, *, tiles: str = "osm", gaps=(), suggestions=(), simplify_m: float = 100.0) -> dict:
    """Every overlay as plain data, coordinates in the tiles' datum (lon, lat order).

    Returns a dict with ``stations`` (ids, lons, lats), ``radius_m``, ``districts``
    (GeoJSON features with the covered shares, as fractions and as percentages, and
    ``share``: what the district is coloured by, the demand covered when a demand layer
    is chosen, else the area covered), ``hexagons`` (GeoJSON features), ``sites``
    (suggested sites) and ``bounds``.
    """
    datum = TILES[tiles]["datum"]
    st = coverage.stations
    slon, slat = _convert(st.lons, st.lats, datum)
    figures = {d["district"]: d for d in coverage.figures()["districts"]}
    tolerance = simplify_m / 111_000.0
    districts = []
    for name, geometry in zip(coverage.area.names, coverage.area.geometries):
        shape = _convert_geometry(shapely.simplify(geometry, tolerance, preserve_topology=True), datum)
        shape = shapely.set_precision(shape, 1e-5)
        row = figures[name]
        districts.append({"type": "Feature", "geometry": shapely.geometry.mapping(shape),
                          "properties": {"name": name, "covered_share": row["covered_share"],
                                         "double_covered_share": row["double_covered_share"],
                                         "demand_covered_share": row["demand_covered_share"],
                                         "share": row["covered_share"] if coverage.uniform
                                         else row["demand_covered_share"],
                                         "covered": percent(row["covered_share"]),
                                         "double_covered": percent(row["double_covered_share"]),
                                         "demand_covered": percent(row["demand_covered_share"]),
                                         "stations": row["stations"]}})
    hexagons = []
    for row in gaps:
        ring = np.array(hex_boundary(row["h3"]))
        hlon, hlat = _convert(ring[:, 0], ring[:, 1], datum)
        hexagons.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[round(float(x), 6), round(float(y), 6)] for x, y in zip(hlon, hlat)]]},
            "properties": {k: row[k] for k in ("rank", "district", "uncovered_demand", "single_demand")}})
    sites = []
    if len(suggestions):
        lons = np.array([s["lon"] for s in suggestions])
        lats = np.array([s["lat"] for s in suggestions])
        clon, clat = _convert(lons, lats, datum)
        sites = [{**s, "lon": float(x), "lat": float(y)} for s, x, y in zip(suggestions, clon, clat)]
    minlon, minlat, maxlon, maxlat = coverage.area.lonlat_bounds
    blon, blat = _convert(np.array([minlon, maxlon]), np.array([minlat, maxlat]), datum)
    return {"datum": datum, "stations": {"ids": st.ids, "lons": slon, "lats": slat},
            "radius_m": coverage.radius_m, "districts": districts, "hexagons": hexagons,
            "sites": sites, "service_areas": _service_areas(coverage, datum),
            "bounds": [[float(blat[0]), float(blon[0])], [float(blat[1]), float(blon[1])]]}


def _service_areas(coverage, datum) -> list[dict]:
    """Stations' service areas along the streets (networks only), as GeoJSON features."""
    if not coverage.along:
        return []
    from ..networks.isochrones import service_areas

    areas = service_areas(coverage.graph, coverage.along["solved"], coverage.along["reach_m"], coverage.stations.ids)
    return [{"type": "Feature", "properties": {"station_id": a["station_id"]},
             "geometry": shapely.geometry.mapping(shapely.set_precision(_convert_geometry(a["geometry"], datum), 1e-5))}
            for a in areas]


class _Stations(MacroElement):
    """Stations as a marker cluster built in the browser from compact arrays (or by viewport)."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var cluster = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false});
  var circles = L.layerGroup();
  var canvas = L.canvas({padding: 0.5});
  var radius = {{ this.radius }};
  function marker(id, lat, lon) {
    var m = L.circleMarker([lat, lon], {radius: 6, color: "#c0392b", weight: 2, fillOpacity: 0.8});
    m.on("click", function () {
      fetch({{ this.api|tojson }} + id).then(function (r) { return r.json(); }).then(function (f) {
        var box = document.createElement("div");
        var b = document.createElement("strong");
        b.textContent = (f.properties && f.properties.name) || ("#" + id);
        box.appendChild(b);
        if (f.properties && f.properties.district) {
          box.appendChild(document.createElement("br"));
          box.appendChild(document.createTextNode(f.properties.district));
        }
        if (window.parent !== window) {  // inside /plan: the what-if's 关闭站点 field is one tap away
          var close = document.createElement("button");
          close.type = "button";
          close.className = "plan-close-station";
          close.textContent = "假设关闭此站（#" + id + "）";
          close.style.cssText = "display:block;margin-top:6px;min-height:36px";
          close.addEventListener("click", function () {
            window.parent.postMessage({yizhan: "close-station", id: id}, window.location.origin);
            close.textContent = "已加入“关闭站点”，点“计算”查看前后对比";
            close.disabled = true;
          });
          box.appendChild(close);
        }
        m.bindPopup(box).openPopup();
      }).catch(function () {});
    });
    return m;
  }
  function circle(lat, lon) {
    return L.circle([lat, lon], {radius: radius, renderer: canvas, stroke: false,
                                 fillColor: "#2c7fb8", fillOpacity: 0.12, interactive: false});
  }
{% if this.viewport %}
  var seen = {};
  function load() {
    if (map.getZoom() < 10) { return; }
    var b = map.getBounds();
    var url = {{ this.bbox_api|tojson }} + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
              .map(function (v) { return v.toFixed(5); }).join(",");
    fetch(url).then(function (r) { return r.json(); }).then(function (fc) {
      var add = [];
      (fc.features || []).forEach(function (f) {
        if (seen[f.id] || f.properties.status !== "active") { return; }
        seen[f.id] = true;
        var c = f.geometry.coordinates;
        add.push(marker(f.id, c[1], c[0]));
        circles.addLayer(circle(c[1], c[0]));
      });
      cluster.addLayers(add);
    }).catch(function () {});
  }
  map.on("moveend", load);
  load();
{% else %}
  var d = {{ this.data|tojson }};
  var lat = d.lat0, lon = d.lon0, id = 0, list = [];
  for (var i = 0; i < d.id.length; i++) {
    id += d.id[i];
    var la = d.lat0 + d.lat[i] / d.q, lo = d.lon0 + d.lon[i] / d.q;
    list.push(marker(id, la, lo));
    circles.addLayer(circle(la, lo));
  }
  cluster.addLayers(list);
{% endif %}
  cluster.addTo(map);
  window.{{ this.get_name() }}_layers = {cluster: cluster, circles: circles};
  {{ this.control_name }}_overlays[{{ this.cluster_label|tojson }}] = cluster;
  {{ this.control_name }}_overlays[{{ this.circle_label|tojson }}] = circles;
})();
{% endmacro %}
""")

    def __init__(self, data, radius, api, bbox_api, viewport, control_name):
        super().__init__()
        self._name = "Stations"
        self.data, self.radius, self.api, self.bbox_api = data, float(radius), api, bbox_api
        self.viewport, self.control_name = viewport, control_name
        self.cluster_label = "站点（聚合）"
        self.circle_label = "服务圈"


class _Overlays(MacroElement):
    """A holder the layer control reads: overlays registered by the station script."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }}_overlays = {};
{% endmacro %}
""")

    def __init__(self):
        super().__init__()
        self._name = "Overlays"


class _Control(MacroElement):
    """Leaflet's layer control over the folium layers and the script-built ones."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var overlays = {{ this.holder }}_overlays;
  {% for label, name in this.layers %}overlays[{{ label|tojson }}] = {{ name }};
  {% endfor %}
  L.control.layers(null, overlays, {collapsed: false}).addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
""")

    def __init__(self, holder, layers):
        super().__init__()
        self._name = "Control"
        self.holder, self.layers = holder, layers


def _station_data(layer) -> dict:
    ids = np.asarray(layer["ids"], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    lats, lons = np.asarray(layer["lats"])[order], np.asarray(layer["lons"])[order]
    if not len(ids):
        return {"lat0": 0, "lon0": 0, "q": _QUANT, "lat": [], "lon": [], "id": []}
    lat0, lon0 = float(np.floor(lats.min())), float(np.floor(lons.min()))
    return {"lat0": lat0, "lon0": lon0, "q": _QUANT,
            "lat": np.round((lats - lat0) * _QUANT).astype(np.int64).tolist(),
            "lon": np.round((lons - lon0) * _QUANT).astype(np.int64).tolist(),
            "id": np.diff(ids[order], prepend=0).tolist()}


def _legend_html(title: str, no_share: bool = False) -> str:
    swatch = '<div><span style="display:inline-block;width:14px;height:10px;background:{};margin-right:4px"></span>{}</div>'
    rows = "".join(swatch.format(c, f"≥ {int(b * 100)}%") for b, c in LEGEND_STEPS)
    if no_share:
        rows += swatch.format(NO_SHARE, "无需求点")
    return ('<div id="plan-legend" style="position:absolute;bottom:64px;left:10px;z-index:1000;'
            'background:#fff;padding:6px 8px;border-radius:4px;font:12px sans-serif;'
            f'box-shadow:0 1px 4px rgba(0,0,0,.3)"><strong>{safe_label(title)}</strong>{rows}</div>')


# A north arrow for a printed map (tiles are north-up), and a printed map without buttons.
_NORTH_ARROW = (
    '<div id="plan-north" title="北" style="position:absolute;top:84px;left:10px;z-index:1000;width:30px;'
    'background:#fff;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);text-align:center;'
    'font:bold 13px sans-serif;line-height:1.1;padding:3px 0">'
    '<svg width="14" height="18" viewBox="0 0 14 18" aria-hidden="true"><path d="M7 0 L14 18 L7 13 L0 18 Z" '
    'fill="#222"/></svg><br>北</div>'
    '<style>@media print { .leaflet-control-zoom, .leaflet-control-layers { display: none !important; }'
    ' #plan-north { top: 10px !important; } }</style>')


def plan_map_html(coverage, *, tiles: str = "osm", gaps=(), suggestions=(), demand_label: str = "",
                  static_url: str = "/static/vendor/", api_url: str = "/api/v1/stations/",
                  viewport: bool = False) -> str:
    """The whole coverage map as a standalone HTML page (for an iframe or a download)."""
    data = overlays(coverage, tiles=tiles, gaps=gaps, suggestions=suggestions)
    spec = TILES[tiles]
    fmap = folium.Map(location=None, tiles=None, control_scale=True, prefer_canvas=True)
    fmap.default_js = [("leaflet", static_url + "leaflet/leaflet.js"),
                       ("markercluster", static_url + "markercluster/leaflet.markercluster.js")]
    fmap.default_css = [("leaflet_css", static_url + "leaflet/leaflet.css"),
                        ("markercluster_css", static_url + "markercluster/MarkerCluster.css"),
                        ("markercluster_default_css", static_url + "markercluster/MarkerCluster.Default.css")]
    folium.TileLayer(spec["url"], attr=spec["attr"], max_zoom=19, name=safe_label("底图"),
                     subdomains=spec.get("subdomains", "abc"), control=False).add_to(fmap)
    fmap.fit_bounds(data["bounds"])
    layers = []

    def style(feature):
        return {"fillColor": share_colour(feature["properties"]["share"]), "color": "#555",
                "weight": 1, "fillOpacity": 0.45}

    by_demand = not coverage.uniform
    fields, aliases = ["name", "covered", "double_covered", "stations"], ["区", "覆盖率", "双覆盖率", "站点数"]
    if by_demand:
        fields.insert(1, "demand_covered")
        aliases.insert(1, "需求覆盖率")
    choropleth_label = "各区需求覆盖率" if by_demand else "各区覆盖率"
    choropleth = folium.GeoJson(
        safe_properties({"type": "FeatureCollection", "features": data["districts"]}),
        name=safe_label(choropleth_label), style_function=style, control=False,
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases))
    choropleth.add_to(fmap)
    layers.append((choropleth_label, choropleth.get_name()))
    if data["service_areas"]:
        minutes = f"{coverage.circle.minutes:g}"
        areas = folium.GeoJson({"type": "FeatureCollection", "features": data["service_areas"]},
                               name=safe_label(f"沿道路 {minutes} 分钟可达范围"), control=False,
                               style_function=lambda feature: {"fillColor": "#1a9850", "color": "#1a9850",
                                                               "weight": 1, "fillOpacity": 0.25})
        areas.add_to(fmap)
        layers.append((f"沿道路 {minutes} 分钟可达范围（{coverage.network}）", areas.get_name()))
    if data["hexagons"]:
        label = safe_label(f"需求缺口（H3，{demand_label or '均匀需求'}）")

        def hex_style(feature):
            return {"fillColor": "#e31a1c" if feature["properties"]["uncovered_demand"] > 0 else "#fd8d3c",
                    "color": "#800026", "weight": 1, "fillOpacity": 0.5}

        hexes = folium.GeoJson(
            safe_properties({"type": "FeatureCollection", "features": data["hexagons"]}),
            name=label, style_function=hex_style, control=False,
            tooltip=folium.GeoJsonTooltip(["rank", "district", "uncovered_demand", "single_demand"],
                                          aliases=["排名", "区", "未覆盖需求", "仅单覆盖需求"]))
        hexes.add_to(fmap)
        layers.append((f"需求缺口（H3，{demand_label or '均匀需求'}）", hexes.get_name()))
    if data["sites"]:
        group = folium.FeatureGroup(name=safe_label("建议新站点"), control=False)
        for site in data["sites"]:
            text = safe_label(f"建议 {site['rank']}：{site.get('name') or ''} {site.get('district') or ''}"
                              f" 新增需求 {site['added_demand']:g}")
            folium.CircleMarker([site["lat"], site["lon"]], radius=8, color="#238b45", fill=True,
                                fill_opacity=0.9, tooltip=folium.Tooltip(text)).add_to(group)
        group.add_to(fmap)
        layers.append(("建议新站点", group.get_name()))
    holder = _Overlays()
    holder.add_to(fmap)
    station_data = None if viewport else _station_data(data["stations"])
    bbox_api = api_url.rstrip("/") + f"?limit=1000&datum={data['datum']}&bbox="
    _Stations(station_data, data["radius_m"], api_url, bbox_api, viewport, holder.get_name()).add_to(fmap)
    # layer names are made inert before they reach a script
    _Control(holder.get_name(), [(safe_label(k), v) for k, v in layers]).add_to(fmap)
    no_share = by_demand and any(f["properties"]["share"] is None for f in data["districts"])
    legend = f"需求覆盖率（按区，{demand_label}）" if by_demand and demand_label else \
        "需求覆盖率（按区）" if by_demand else "覆盖率（按区）"
    fmap.get_root().html.add_child(Element(_legend_html(legend, no_share)))
    fmap.get_root().html.add_child(Element(_NORTH_ARROW))
    return fmap.get_root().render()
