"""Importing station lists from CSV, XLSX and GeoJSON, all or nothing, in a stream.

Columns are found by their header, Chinese or English.  Every row is checked
and every problem is reported with the row number as a spreadsheet shows it
(header row 1, first station row 2), the column as the file names it, and a
reason.  A file with any error writes nothing unless ``skip_invalid`` is given,
and then exactly the valid rows; a dry run writes nothing at all.

Memory stays bounded for big files (500,000 rows): rows are read one at a time
(``stations.registry.readers``), checked in batches, and parked in a temporary file; the
checks that need the whole file (duplicates) keep only compact arrays.  Writing
then streams the parked rows in batches inside one write transaction, so the
import is still all or nothing.

The package has one job per module:

- :mod:`.report` — :class:`ImportReport` and its text for the command line;
- :mod:`.checks` — headers, reading rows, lines that are not stations, cells,
  coordinates and duplicates;
- :mod:`.unions` — host unions resolved by name or alias, one index per import; the
  unknown ones noted while checking and added (``unplaced``) when writing;
- :mod:`.pipeline` — :func:`import_stream` and friends: check, then write in one
  transaction with progress and history.
"""

from __future__ import annotations

from ..readers import MAX_ROWS
from .checks import HEADER_ALIASES, map_headers
from .pipeline import import_file, import_path, import_stream
from .report import ImportError_, ImportReport, RowReport, format_report, new_unions_summary, skipped_summary

# Names kept importable from ``stations.registry.importer`` as before the split; the private
# table readers are used by stations.coverage.demand.
from .checks import (
    BATCH, DETAIL_LIMIT, SKIPPED_LIMIT, _decode_text, _norm_header, # noqa: F401
                     _read_csv, _read_xlsx, _shown, _sniff_format, open_rows)
from .pipeline import WRITTEN_LIMIT  # noqa: F401

__all__ = ["ImportError_", "ImportReport", "RowReport", "HEADER_ALIASES", "map_headers",
           "import_file", "import_path", "import_stream", "format_report", "skipped_summary",
           "new_unions_summary"]
_MAX_ROWS = MAX_ROWS
