"""Street networks (issue 19): travel along real streets instead of a circle.

What arrives is an OpenStreetMap extract (``.osm.pbf``, as BBBike and Geofabrik give
them).  ``build`` reads it into two networks — walking and e-bike — as plain arrays
(nodes in metres, segments with their length and the directions they may be used in)
and refuses files that are not extracts, empty, without streets or outside China.
``store`` keeps them beside the database (``networks/`` next to the database file) and
lists, loads and deletes them.  ``graph`` is the routing engine: it joins places and
stations to the nearest street they may use and runs ``scipy.sparse.csgraph.dijkstra``
from all stations at once.  ``coverage`` gives the coverage figures on a network in the
same shape as the circles'; ``isochrones`` draws service areas; ``nearest`` ranks
stations for a rider by travel time.

The rule (README, /plan): a place joins the network at the nearest point of the nearest
street it may use (straight line, at most ``MAX_SNAP_M``; a place farther from every
street is not covered); a station does the same; travel time is that length plus the
street length at the mode's speed.  The core imports neither Flask nor folium.
"""

from .build import MAX_SNAP_M, NetworkError, build_networks, check_pbf
from .graph import StreetGraph
from .store import delete_network, import_network, list_networks, load_graph, network_meta, networks_dir

__all__ = ["MAX_SNAP_M", "NetworkError", "StreetGraph", "build_networks", "check_pbf", "delete_network",
           "import_network", "list_networks", "load_graph", "network_meta", "networks_dir"]
