"""What every command shares: the database from the app's settings, a clear message when
another writer holds it, and a progress bar for long imports."""

from __future__ import annotations

import functools
import sys

import click
from flask import current_app

from .. import storage

__all__ = ["DATUM", "open_db", "open_migrated", "clear_when_busy", "ImportProgress"]

DATUM = click.Choice(["wgs84", "gcj02", "bd09"])


def open_db():
    return storage.connect(current_app.config["YIZHAN_DB"],
                           busy_timeout_ms=current_app.config["YIZHAN_BUSY_TIMEOUT_MS"])


def open_migrated():
    db = open_db()
    storage.migrate(db)
    return db


def clear_when_busy(command):
    """Another writer kept the database past the busy timeout: say so in Chinese, no traceback."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except storage.DatabaseBusy:
            seconds = current_app.config["YIZHAN_BUSY_TIMEOUT_MS"] / 1000
            raise click.ClickException(
                f"数据库正忙：另一个写入任务（例如另一个导入或恢复）占用数据库超过 {seconds:g} 秒，"
                "本次操作没有完成。请等它结束后重试（等待时长由 YIZHAN_BUSY_TIMEOUT_MS 设置）。"
            ) from None

    return guarded


class ImportProgress:
    """A progress bar on stderr for long imports (checking, then writing)."""

    LABELS = {"check": "检查", "write": "写入"}
    SHOW_FROM = 5_000  # rows: smaller files finish before a bar would help

    def __init__(self):
        self.bar, self.stage, self.shown = None, None, 0

    def __call__(self, stage, done, total):
        if stage != self.stage:
            self.close()
            self.stage, self.shown = stage, 0
        if self.bar is None:
            if max(done, total or 0) < self.SHOW_FROM:
                return
            self.bar = click.progressbar(length=max(total or 0, done, 1), label=self.LABELS[stage],
                                         file=sys.stderr, show_pos=True, show_eta=True)
            self.bar.__enter__()
        self.bar.length = max(self.bar.length, done)  # totals of XLSX and GeoJSON are not known
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
