"""Yizhan 驿站: the core — records, validation, storage, search, import/export.

Nothing in this package outside ``stations.web`` and ``stations.cli`` imports Flask.
"""
