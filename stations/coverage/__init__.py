"""Coverage planning (DESIGN.md §6, issue 7): figures, demand layers, gaps, suggestions, maps.

The core imports neither Flask nor folium; :mod:`stations.coverage.maps` is the one
module that imports folium (import it explicitly).
"""

from .figures import Coverage, DemandPoints, StationSet, evaluate
from .gaps import gap_hexagons, gaps_geojson
from .grid import MODES, Area, Circle, CoverageError, area_for
from .planner import PlanParams, figures_answer, parse_params, run, station_set, whatif
from .suggest import greedy_mclp, suggest_sites

__all__ = ["Area", "Circle", "Coverage", "CoverageError", "DemandPoints", "MODES", "PlanParams",
           "StationSet", "area_for", "evaluate", "figures_answer", "gap_hexagons", "gaps_geojson",
           "greedy_mclp", "parse_params", "run", "station_set", "suggest_sites", "whatif"]
