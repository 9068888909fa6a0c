"""Storage: SQLite through sqlite-utils, behind named functions.

Callers never build SQL; they call ``get_station``, ``search_stations``,
``insert_stations`` … and get plain dicts back.  One job per module:
``connection`` (opening the file, write transactions that wait their turn, the
busy rule), ``awards`` (which stations carry an honour or a 七有 score), ``features`` (pages of stations for
the OGC API – Features service), ``migrations`` (the schema, ordered and registered; the version
lives in ``PRAGMA user_version``), ``schema`` (a file's schema compared with what the
migrations make at its version) and ``stations`` (station records and their
history).  Everything is re-exported here: callers write ``storage.get_station``.
"""

from .awards import *  # noqa: F401,F403
from .awards import __all__ as _award_names
from .connection import *  # noqa: F401,F403
from .connection import TZ  # noqa: F401  (Beijing time, used across the core)
from .connection import __all__ as _connection_names
from .features import *  # noqa: F401,F403
from .features import __all__ as _feature_names
from .migrations import *  # noqa: F401,F403
from .migrations import __all__ as _migration_names
from .schema import *  # noqa: F401,F403
from .schema import __all__ as _schema_names
from .stations import *  # noqa: F401,F403
from .stations import __all__ as _station_names

__all__ = sorted(set(_award_names) | set(_connection_names) | set(_feature_names) | set(_migration_names) | set(_schema_names) | set(_station_names))
