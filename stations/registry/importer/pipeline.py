"""The write pipeline of a station import: open, check (``.checks``), then stream the
parked rows in batches inside one write transaction, so the import is all or
nothing; progress is reported per stage and every written station gets history."""

from __future__ import annotations

import io
from pathlib import Path

from ..readers import FileProblem
from ...storage import insert_stations, write_transaction
from .checks import _check, open_rows
from .report import ImportReport
from ...unions.scope import provisional_parent

__all__ = ["import_file", "import_path", "import_stream"]

WRITTEN_LIMIT = 1_000  # written stations the report links to


def _no_progress(stage, done, total):
    pass


def import_stream(db, stream, filename: str = "", *, datum="wgs84", region="beijing",
                  dry_run=False, skip_invalid=False, username=None, progress=None,
                  spill_dir=None, scope=None, union_parent_id=None) -> ImportReport:
    """Read, check and (unless told otherwise) store a station list in one transaction.

    Parameters
    ----------
    stream : binary file object
        The file, seekable (an open file or BytesIO).
    progress : callable, optional
        ``progress(stage, done, total)`` with stage ``"check"`` or ``"write"``;
        ``total`` is an estimate or None.
    spill_dir : path, optional
        Where checked rows wait for the write (a temporary file, removed after).
    scope : stations.unions.scope.Scope, optional
        The importer's part of the union tree: rows of unions (or updating stations)
        outside it are errors; unknown unions go provisionally under the importer's union.
    union_parent_id : int, optional
        Where the host unions no union answers to go, provisionally (still ``unplaced``):
        the importing organiser's union when its scope is part of the tree, so it sees
        what it imported; None leaves them at the top, for the city's organiser.

    Returns
    -------
    ImportReport
        ``written`` is the number of stations stored (0 when the file had errors
        and ``skip_invalid`` was not given, or on a dry run).
    """
    report = ImportReport(filename, datum=datum, dry_run=dry_run, skip_invalid=skip_invalid)
    progress = progress or _no_progress
    try:
        rows, estimate = open_rows(stream, filename, report)
        checked = _check(rows, report, datum, region, db, progress, estimate, spill_dir, scope)
    except FileProblem as exc:
        report.file_errors.append(str(exc))
        return report
    try:
        if not report.total_rows:
            report.file_errors.append("文件中没有站点数据行")
        elif not (dry_run or not report.valid_rows or (report.error_rows and not skip_invalid)):
            _write(db, checked, report, username, progress,
                   union_parent_id if union_parent_id is not None
                   else provisional_parent(scope) if scope is not None else None)
    finally:
        checked.close()
    return report


def _write(db, checked, report, username, progress, union_parent_id=None):
    # Rows that carry an id first, so that ids handed to the others never collide.
    written, flags = 0, checked.flags
    with write_transaction(db):
        new_unions = checked.unions.written(flags)
        if new_unions:
            from ...unions.store import UnionIndex, resolve_or_create

            index = UnionIndex(db)  # each new name once, before the stations naming it
            for name in new_unions:
                resolve_or_create(db, name, parent_id=union_parent_id, username=username, index=index)
        for with_id in (True, False):
            for batch in checked.batches():
                picked = [record for i, record in batch
                          if not flags[i] & 1 and (record.get("id") is not None) == with_id]
                records = [{k: v for k, v in record.items() if k != "_row"} for record in picked]
                if records:
                    ids = insert_stations(db, records, username=username, action="import",
                                          union_parent=union_parent_id)
                    listed = report.written_stations
                    for record, station_id in zip(picked[:max(0, WRITTEN_LIMIT - len(listed))], ids):
                        listed.append([record["_row"], station_id, record.get("name")])
                    written += len(records)
                    progress("write", written, report.valid_rows)
    report.written = written
    report.written_stations.sort()


def import_file(db, data: bytes, filename: str = "", **options) -> ImportReport:
    """:func:`import_stream` over bytes in memory (small files, tests)."""
    return import_stream(db, io.BytesIO(data), filename, **options)


def import_path(db, path, filename: str | None = None, **options) -> ImportReport:
    """:func:`import_stream` over a file on disk; the report names ``filename`` if given."""
    path = Path(path)
    with open(path, "rb") as stream:
        return import_stream(db, stream, filename or path.name, **options)
