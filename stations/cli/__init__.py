"""The ``yizhan`` command line, built on Flask's CLI (``flask --app app …`` works too)."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from .. import storage
from ..accounts import users
from ..registry.exporter import EXPORT_FORMATS, export_stations
from ..registry.importer import format_report, import_path

__all__ = ["main", "register_commands"]

DATUM = click.Choice(["wgs84", "gcj02", "bd09"])


def _db():
    return storage.connect(current_app.config["YIZHAN_DB"],
                           busy_timeout_ms=current_app.config["YIZHAN_BUSY_TIMEOUT_MS"])


def _open_migrated():
    db = _db()
    storage.migrate(db)
    return db


def _clear_when_busy(command):
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


@click.command("init")
@with_appcontext
@_clear_when_busy
def init_command():
    """Create the database, or migrate an older one in place (path from YIZHAN_DB)."""
    db = _db()
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
@_clear_when_busy
def demo_command(count, seed, region, replace, with_users, ledger_days):
    """Fill the database with a synthetic (clearly labelled) demo dataset."""
    from ..registry.demo import DEMO_USERS, generate_stations, load_demo

    db = _open_migrated()
    started = time.perf_counter()
    records = generate_stations(count, seed=seed, region=region)
    written = load_demo(db, records, replace=replace)
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
                users.add_user(db, name, password, role, union)
                click.echo(f"演示账号：{name} / {password}（{users.ROLES[role]}）")


class _ImportProgress:
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


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datum", type=DATUM, default="wgs84", show_default=True,
              help="Datum of the file's coordinates (gcj02 for Amap/Tencent, bd09 for Baidu).")
@click.option("--dry-run", is_flag=True, help="Check and report only; write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows even if some rows have errors.")
@click.option("--user", "username", default="cli", show_default=True, help="Name recorded in the history.")
@with_appcontext
@_clear_when_busy
def import_command(file, datum, dry_run, skip_invalid, username):
    """Import stations from a CSV (UTF-8 or GBK), XLSX or GeoJSON file."""
    db = _open_migrated()
    started = time.perf_counter()
    progress = _ImportProgress()
    try:
        report = import_path(db, file, datum=datum, region=current_app.config["YIZHAN_REGION"],
                             dry_run=dry_run, skip_invalid=skip_invalid, username=username,
                             progress=progress)
    finally:
        progress.close()
    if report.written:
        storage.checkpoint(db)
    click.echo(format_report(report))
    click.echo(f"用时 {time.perf_counter() - started:.1f} 秒。", err=True)
    if not report.ok and not report.written:
        sys.exit(1)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@with_appcontext
@_clear_when_busy
def backup_command(file, force):
    """Copy the live database to FILE (a consistent snapshot; the app may keep serving)."""
    from ..storage.backup import BackupError, backup_database

    if file.exists() and not force:
        raise click.ClickException(f"{file} 已存在；要覆盖请加 --force。")
    db = _open_migrated()
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
@_clear_when_busy
def restore_command(file, yes):
    """Replace the live database with the backup FILE (checked first; asks to confirm)."""
    from ..storage.backup import BackupError, check_backup, restore_database

    try:
        info = check_backup(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    db = _open_migrated()
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
    db = _open_migrated()
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


@click.group("user")
def user_group():
    """Manage accounts."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(users.ROLES)), required=True)
@click.option("--union", "union_name", default=None, help="The user's own union (reviewers: conflict of interest; union users: required).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
@_clear_when_busy
def user_add(name, role, union_name, password_stdin):
    """Add an account; asks for the password (or reads it from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        users.add_user(_open_migrated(), name, password, role, union_name)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已添加用户 {name}（{users.ROLES[role]}）。")


@user_group.command("list")
@with_appcontext
def user_list():
    """List accounts."""
    for user in users.list_users(_open_migrated()):
        click.echo(f"{user['username']}\t{user['role']}\t{user['union_name'] or ''}")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@with_appcontext
@_clear_when_busy
def user_passwd(name, password_stdin):
    """Set a user's password; every session of that user ends and the API token is revoked."""
    db = _open_migrated()
    if users.get_user(db, name) is None:
        raise click.ClickException(f"没有用户 {name}。")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        ended = users.set_password(db, name, password)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已为 {name} 设置新密码，结束了 {ended.sessions} 个登录会话，撤销了 {ended.tokens} 个 API 令牌。")


@user_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(list(users.ROLES)))
@with_appcontext
@_clear_when_busy
def user_role(name, role):
    """Change a user's role; every session of that user ends and the API token is revoked."""
    try:
        ended = users.set_role(_open_migrated(), name, role)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name} 现在是{users.ROLES[role]}，结束了 {ended.sessions} 个登录会话，"
               f"撤销了 {ended.tokens} 个 API 令牌。")


@user_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's token instead of issuing one.")
@with_appcontext
@_clear_when_busy
def user_token(name, revoke):
    """Issue a new API token for a user (printed last; replaces the old one), or revoke it."""
    from ..accounts import tokens

    db = _open_migrated()
    user = users.get_user(db, name)
    if user is None:
        raise click.ClickException(f"没有用户 {name}。")
    if revoke:
        count = tokens.revoke_tokens(db, user["id"])
        click.echo(f"已撤销 {name} 的 {count} 个 API 令牌。")
        return
    token = tokens.issue_token(db, user["id"])
    click.echo(f"{name} 的新 API 令牌（旧令牌已失效；只显示这一次，请用 Authorization: Bearer 发送）：")
    click.echo(token)


def register_commands(app):
    for command in (init_command, demo_command, import_command, export_command, user_group,
                    backup_command, restore_command):
        app.cli.add_command(command)
    from .coverage import COMMANDS as planner_commands
    from .ledger import COMMANDS as ledger_commands

    for command in ledger_commands:
        app.cli.add_command(command)

    for command in planner_commands:
        app.cli.add_command(command)


def _create_app():
    from ..web import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, add_default_commands=True,
                  help="Yizhan 驿站: station registry commands. Database path from YIZHAN_DB.")
