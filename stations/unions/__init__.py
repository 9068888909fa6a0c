"""Unions as records: the union tree (DESIGN.md §2b).

``names`` (normalising names, near misses), ``store`` (records, aliases, the tree,
placing and merging), ``scope`` (what part of the tree a user sees), ``demo`` (the demo's
tree).  Storage reaches ``store.fill_host_union`` lazily when a station's union is
written, as it reaches other watchers.
"""
