"""Boundary data for Yizhan, in WGS-84 (lon, lat).

* :mod:`geodata.districts` — Beijing's 16 districts, China's prefecture-level cities
  and the national outline (shipped GeoJSON, built by ``scripts/build_geodata.py``;
  sources in ``geodata/SOURCES.md``), with point-in-district look-ups.
* :mod:`geodata.datum` — conversion between WGS-84, GCJ-02 and BD-09.
"""
