"""Backup and restore of the live database through SQLite's online backup API.

A backup copies the database page by page from one read transaction, so it is a
consistent snapshot even while the app keeps writing (WAL readers do not block
writers).  A restore first checks the file (integrity, a Yizhan version no newer
than this program's, and exactly the schema the migrations make at that version:
nothing a crafted file adds, such as a trigger, runs later), then copies it into the live database through the same
API, as one write transaction: other connections see the old data or the new,
never a mixture, and no file is swapped under an open WAL database.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .. import storage

__all__ = ["BackupError", "BackupInfo", "backup_database", "check_backup", "restore_database"]

_HEADER = b"SQLite format 3\x00"
# Tables and columns every Yizhan database has had since the first migration.
_REQUIRED = {
    "stations": {"id", "name", "address", "district", "lon", "lat", "status", "facilities",
                 "created_at", "updated_at"},
    "users": {"id", "username", "password_hash", "role"},
}
_PAGES_PER_STEP = 256  # 1 MiB at 4 KiB pages: a progress tick, short locks on the source
_DIFFERENCES_SHOWN = 8


class BackupError(ValueError):
    """A backup could not be written, or a file is not fit to restore (Chinese message)."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    version: int
    stations: int
    users: int
    size: int

    def describe(self) -> str:
        return (f"{self.path}：数据库版本 {self.version}，{self.stations} 个站点，"
                f"{self.users} 个账号，{self.size / 1048576:.1f} MiB")


def _progress(callback):
    if callback is None:
        return None
    return lambda status, remaining, total: callback(total - remaining, total)


def backup_database(db, target: str | Path, *, progress=None) -> BackupInfo:
    """Write a consistent copy of the database ``db`` to the new file ``target``.

    Parameters
    ----------
    db : sqlite_utils.Database
        An open connection to the live database; it must not be inside a transaction.
    target : path
        Where the copy goes.  It is written beside as ``<target>.part`` and renamed
        when complete, so a failed backup never leaves a half file under that name.
    progress : callable, optional
        ``progress(pages_done, pages_total)`` after each step.

    Returns
    -------
    BackupInfo
        What the copy holds, read back from it after an integrity check.
    """
    target = Path(target)
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    try:
        out = sqlite3.connect(part)
    except sqlite3.Error as exc:
        raise BackupError(f"无法写入备份文件 {target}：{exc}") from None
    try:
        # One read transaction pins the snapshot: every step copies the same version
        # of the database however much other connections write meanwhile.
        db.conn.execute("BEGIN")
        try:
            db.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            db.conn.backup(out, pages=_PAGES_PER_STEP, progress=_progress(progress))
        finally:
            db.conn.execute("COMMIT")
        out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    except sqlite3.Error as exc:
        out.close()
        part.unlink(missing_ok=True)
        raise BackupError(f"备份失败：{exc}") from None
    out.close()
    try:
        info = check_backup(part)
    except BackupError:
        part.unlink(missing_ok=True)
        raise
    part.replace(target)
    return BackupInfo(target, info.version, info.stations, info.users, info.size)


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def check_backup(path: str | Path) -> BackupInfo:
    """Check that ``path`` is a sound Yizhan database this program can restore.

    Raises BackupError (Chinese message) if the file is missing, not SQLite, fails
    ``PRAGMA integrity_check``, lacks the Yizhan tables, comes from a newer version
    of the program, or holds a schema other than the one the migrations make at its
    version (an extra trigger or view, a missing table, a changed column …).
    """
    path = _sqlite_file(path)
    conn = _open(path)
    try:
        return _check(conn, path)
    finally:
        conn.close()


def _sqlite_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}。")
    with open(path, "rb") as handle:
        head = handle.read(len(_HEADER))
    if head != _HEADER:
        raise BackupError(f"{path} 不是 SQLite 数据库文件，不能用来恢复。")
    return path


def _open(path: Path) -> sqlite3.Connection:
    try:
        return _open_read_only(path)
    except sqlite3.Error as exc:
        raise BackupError(f"无法打开 {path}：{exc}") from None


def _check(conn: sqlite3.Connection, path: Path) -> BackupInfo:
    latest = len(storage.MIGRATIONS)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if problems != ["ok"]:
            raise BackupError(f"{path} 已损坏（完整性检查未通过：{'；'.join(problems[:5])}），不能用来恢复。")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, columns in _REQUIRED.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")} if table in tables else set()
            if not columns <= have:
                raise BackupError(f"{path} 不是驿站数据库（缺少表 {table} 或其中的字段），不能用来恢复。")
        if version < 1:
            raise BackupError(f"{path} 不是驿站数据库（没有数据库版本号），不能用来恢复。")
        if version > latest:
            raise BackupError(f"{path} 来自更新版本的驿站程序（数据库版本 {version}，本程序最高支持 "
                              f"{latest}），请先升级程序再恢复。")
        # Exactly what the migrations make at this version, before any query reads a
        # table (a "table" could be a view): nothing extra runs after the restore.
        differences = storage.schema_differences(storage.reference_schema(version),
                                                 storage.describe_schema(conn))
        if differences:
            shown = "；".join(differences[:_DIFFERENCES_SHOWN])
            if len(differences) > _DIFFERENCES_SHOWN:
                shown += f"……（共 {len(differences)} 处）"
            raise BackupError(f"备份文件 {path} 的数据库结构与版本 {version} 不符：{shown}。"
                              "它不是 yizhan backup 做出的原样备份，不能用来恢复。")
        stations = conn.execute("SELECT count(*) FROM stations").fetchone()[0]
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed" …
        raise BackupError(f"{path} 已损坏或不是数据库（{exc}），不能用来恢复。") from None
    return BackupInfo(path, version, stations, users, path.stat().st_size)


def restore_database(db, source: str | Path, *, progress=None) -> tuple[BackupInfo, int]:
    """Replace the content of the live database ``db`` with the backup ``source``.

    The file is checked first (``check_backup``); nothing is touched if it fails.
    The copy takes the write lock like any writer (DatabaseBusy if another writer
    keeps it past the busy timeout), then the restored database is migrated to
    the current version and its change counter moved past both old values, so
    in-memory indexes built from the replaced data notice.

    Returns
    -------
    (BackupInfo, int)
        What was restored, and the schema version after migrating it.
    """
    path = _sqlite_file(source)
    before_version = storage.data_version(db) if _has_meta(db) else 0
    src = _open(path)
    try:
        # One read transaction from the check to the end of the copy: what is copied is
        # what was checked, even if someone writes to the file meanwhile.
        src.execute("BEGIN")
        info = _check(src, path)
        if src.execute("PRAGMA page_size").fetchone()[0] != db.execute("PRAGMA page_size").fetchone()[0]:
            raise BackupError(f"{source} 的页大小与现有数据库不同，不能在线恢复。")
        with storage.write_transaction(db):
            pass  # wait for the write lock here, within the busy timeout (Python's backup retries forever)
        try:
            src.backup(db.conn, pages=_PAGES_PER_STEP, progress=_progress(progress))
        except sqlite3.Error as exc:
            if storage.is_busy_error(exc):
                raise storage.DatabaseBusy(str(exc)) from exc
            raise BackupError(f"恢复失败：{exc}") from None
    finally:
        src.close()
    _, version = storage.migrate(db)
    with storage.write_transaction(db):
        db.execute("UPDATE meta SET value = max(value, ?) + 1 WHERE key = 'stations_version'",
                   [before_version])
    storage.checkpoint(db)
    return info, version


def _has_meta(db) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is not None
