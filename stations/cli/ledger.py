"""``yizhan ledger import`` and ``yizhan report``: the service ledger on the command line."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import ledger, storage
from ..accounts import users
from .common import ImportProgress, clear_when_busy

__all__ = ["COMMANDS"]


def _db():
    db = storage.connect(current_app.config["YIZHAN_DB"],
                         busy_timeout_ms=current_app.config["YIZHAN_BUSY_TIMEOUT_MS"])
    storage.migrate(db)
    return db




def _acting_user(db, name):
    if not name:
        return {"username": "cli", "role": "admin", "union_name": None}
    user = users.get_user(db, name)
    if user is None:
        raise click.ClickException(f"没有用户 {name}")
    if user["role"] not in ("admin", "union"):
        raise click.ClickException(f"用户 {name} 是{users.ROLES[user['role']]}，不能登记台账")
    return user


@click.group("ledger")
def ledger_group():
    """The service ledger (服务台账)."""


@ledger_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", default=None,
              help="Write as this account (a union user: its own union's stations only); default: as admin.")
@click.option("--dry-run", is_flag=True, help="Check and report only; write nothing.")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="The ledger's month: the year of dates written 11月3日 (default: the sheet's title).")
@with_appcontext
@clear_when_busy
def ledger_import(file, username, dry_run, month):
    """Import a month's ledger (XLSX or CSV), all or nothing."""
    db = _db()
    user = _acting_user(db, username)
    progress = ImportProgress()
    try:
        report = ledger.import_ledger(db, file, user, filename=file.name, dry_run=dry_run, progress=progress,
                                      month=month)
    finally:
        progress.close()
    for message in report.file_errors:
        click.echo(f"文件错误：{message}", err=True)
    if report.skipped_count:
        click.echo(report.skipped_summary, err=True)
    for p in report.problems:
        click.echo(f"第 {p.row} 行 [{p.column}]：{p.message}", err=True)
    if report.error_rows > len(report.problems):
        click.echo(f"……只列出前 {len(report.problems)} 个问题。", err=True)
    click.echo(f"共 {report.total_rows:,} 行，有错误 {report.error_rows:,} 行，涉及 {report.stations:,} 个站点；"
               f"用时 {report.seconds:.1f} 秒。")
    if not report.ok:
        raise click.ClickException("因存在错误，未写入任何数据。")
    if dry_run:
        click.echo("试运行：检查通过，未写入任何数据。")
    else:
        storage.checkpoint(db)
        click.echo(f"已写入 {report.written:,} 天的台账（覆盖 {report.replaced:,} 天，原记录已存入历史）。")


@click.command("report")
@click.option("--year", type=click.IntRange(2015, 9999), default=None, help="Calendar year (default: this year).")
@click.option("--district", default=None, help="One district, e.g. 海淀区.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (as GET /api/v1/reports/ledger).")
@with_appcontext
@clear_when_busy
def report_command(year, district, as_json):
    """Ledger, check-in and 双沟通 figures for a year: total, per district, per month."""
    db = _db()
    year = year or ledger.today().year
    if year > ledger.today().year:
        raise click.ClickException(f"{year} 年还没到")
    from ..riders.search import district_choices

    districts = district_choices(current_app.config["YIZHAN_REGION"])
    if district and district not in districts:
        raise click.ClickException(f"不认识的区“{district}”：可用 {'、'.join(districts)}")
    result = ledger.ledger_report(db, start=date(year, 1, 1), end=date(year, 12, 31), district=district,
                                  district_order=districts, with_kinds=not as_json)
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
        click.echo()
        return
    scope = "全区" if district else ("全市" if current_app.config["YIZHAN_REGION"] == "beijing" else "全国")
    click.echo(ledger.year_summary(result, scope=scope, title=f"{year}年{district or ''}，"))
    click.echo("月份\t来访\t服务\t签到\t职工沟通会\t企业沟通会\t入会\t建会")
    for m in result["months"]:
        click.echo("\t".join(str(m[k]) for k in ("month",) + ledger.FIGURES))


COMMANDS = [ledger_group, report_command]
