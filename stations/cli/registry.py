"""Registry commands: ``init``, ``demo``, ``import``, ``export``, ``backup`` and ``restore``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import storage
from ..accounts import users
from ..registry.exporter import EXPORT_FORMATS, export_stations
from ..registry.importer import format_report, import_path
from .common import DATUM, ImportProgress, clear_when_busy, open_db, open_migrated

__all__ = ["COMMANDS"]


@click.command("init")
@with_appcontext
@clear_when_busy
def init_command():
    """Create the database, or migrate an older one in place (path from YIZHAN_DB)."""
    db = open_db()
    before, after = storage.migrate(db)
    path = current_app.config["YIZHAN_DB"]
    if before == after:
        click.echo(f"数据库 {path} 已是最新（版本 {after}）。")
    else:
        click.echo(f"数据库 {path} 已从版本 {before} 升级到版本 {after}。")


@click.command("demo")
@click.option("--stations", "count", default=3000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many synthetic stations to generate.")
@click.option("--seed", default=2021, show_default=True, type=int, help="Random seed (same seed, same data).")
@click.option("--region", default="beijing", show_default=True, type=click.Choice(["beijing", "china"]),
              help="Beijing's 16 districts, or China's cities.")
@click.option("--replace/--keep", default=False, show_default=True,
              help="Delete existing synthetic stations first.")
@click.option("--with-users/--no-users", default=True, show_default=True,
              help="Also create the demo accounts (admin, reviewer, planner) if missing.")
@click.option("--ledger-days", default=365, show_default=True, type=click.IntRange(0, 3650),
              help="Days of synthetic service ledgers, check-ins and 双沟通 meetings (0: none).")
@with_appcontext
@clear_when_busy
def demo_command(count, seed, region, replace, with_users, ledger_days):
    """Fill the database with a synthetic (clearly labelled) demo dataset."""
    from ..registry.demo import DEMO_USERS, generate_stations, load_demo

    db = open_migrated()
    started = time.perf_counter()
    records = generate_stations(count, seed=seed, region=region)
    written = load_demo(db, records, replace=replace, region=region)
    storage.checkpoint(db)
    click.echo(f"已生成 {written} 个合成站点（{region}，种子 {seed}），"
               f"用时 {time.perf_counter() - started:.1f} 秒。所有记录均标记为合成数据。")
    if ledger_days:
        from ..ledger.demo import generate_year

        started = time.perf_counter()
        made = generate_year(db, seed=seed, days=ledger_days)
        storage.checkpoint(db)
        click.echo(f"已为 {made['stations']} 个合成站点生成 {ledger_days} 天的服务台账 {made['entries']:,} 条、"
                   f"骑手签到 {made['checkins']:,} 次、双沟通会议 {made['meetings']:,} 场（均标记为合成数据），"
                   f"用时 {time.perf_counter() - started:.1f} 秒。")
    if with_users:
        for name, (password, role, union) in DEMO_USERS.items():
            if users.get_user(db, name) is None:
                users.add_user(db, name, password, role, union, create_union=True)
                click.echo(f"演示账号：{name} / {password}（{users.ROLES[role]}）")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datum", type=DATUM, default="wgs84", show_default=True,
              help="Datum of the file's coordinates (gcj02 for Amap/Tencent, bd09 for Baidu).")
@click.option("--dry-run", is_flag=True, help="Check and report only; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows even if some rows have errors.")
@click.option("--user", "username", default="cli", show_default=True, help="Name recorded in the history.")
@with_appcontext
@clear_when_busy
def import_command(file, datum, dry_run, skip_invalid, username):
    """Import stations from a CSV (UTF-8 or GBK), XLSX or GeoJSON file."""
    db = open_migrated()
    started = time.perf_counter()
    progress = ImportProgress()
    try:
        report = import_path(db, file, datum=datum, region=current_app.config["YIZHAN_REGION"],
                             dry_run=dry_run, skip_invalid=skip_invalid, username=username,
                             progress=progress, union_parent_id=_union_parent(db, username))
    finally:
        progress.close()
    if report.written:
        storage.checkpoint(db)
    click.echo(format_report(report))
    click.echo(f"用时 {time.perf_counter() - started:.1f} 秒。", err=True)
    if not report.ok and not report.written:
        sys.exit(1)


def _union_parent(db, username):
    """Where the unions an import adds go, provisionally: under the union of a --user
    whose scope is part of the tree (a district admin), else at the top."""
    from ..unions.scope import scope_of

    user = users.get_user(db, username)
    return scope_of(db, user).union_id if user and user["role"] == "admin" else None


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@with_appcontext
@clear_when_busy
def backup_command(file, force):
    """Copy the live database to FILE (a consistent snapshot; the app may keep serving)."""
    from ..storage.backup import BackupError, backup_database

    if file.exists() and not force:
        raise click.ClickException(f"{file} 已存在；要覆盖请加 --force。")
    db = open_migrated()
    started = time.perf_counter()
    with click.progressbar(length=1, label="备份中", file=sys.stderr) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)

        try:
            info = backup_database(db, file, progress=progress)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"已备份到 {info.describe()}，用时 {time.perf_counter() - started:.1f} 秒。")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@clear_when_busy
def restore_command(file, yes):
    """Replace the live database with the backup FILE (checked first; asks to confirm)."""
    from ..storage.backup import BackupError, check_backup, restore_database

    try:
        info = check_backup(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    db = open_migrated()
    path = current_app.config["YIZHAN_DB"]
    click.echo(f"备份文件 {info.describe()}。")
    if not yes and not click.confirm(f"将用它替换数据库 {path}（现有 {storage.count_stations(db)} "
                                     "个站点，现有数据将被覆盖），确定吗？"):
        click.echo("已取消，数据库没有改动。", err=True)
        sys.exit(1)
    with click.progressbar(length=1, label="恢复中", file=sys.stderr) as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)

        try:
            info, version = restore_database(db, file, progress=progress)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
    upgraded = f"，已从版本 {info.version} 升级到版本 {version}" if version != info.version else ""
    click.echo(f"已恢复 {info.stations} 个站点、{info.users} 个账号到 {path}{upgraded}。")


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True)
@click.option("--datum", type=DATUM, default="wgs84", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--include-personal", is_flag=True,
              help="Also export manager names and phones (personal data: keep the file private).")
@with_appcontext
def export_command(fmt, datum, output, include_personal):
    """Export every station to CSV, XLSX, GeoJSON or GeoPackage."""
    db = open_migrated()
    # Written beside the target and renamed when complete: a failed export leaves no
    # empty or half-written file behind (and an older export of the same name intact).
    partial = output.with_name(f".{output.name}.part")
    try:
        with open(partial, "wb") as out:
            count = export_stations(storage.iter_stations(db, private=include_personal), fmt, out,
                                    datum=datum, private=include_personal)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"已导出 {count} 个站点到 {output}（{fmt}，{datum}）。")


COMMANDS = [init_command, demo_command, import_command, export_command, backup_command, restore_command]
