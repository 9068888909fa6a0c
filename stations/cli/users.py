"""``yizhan user …``: accounts and their API tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..accounts import users
from .common import clear_when_busy, open_migrated

__all__ = ["COMMANDS"]


@click.group("user")
def user_group():
    """Manage accounts."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(users.ROLES)), required=True)
@click.option("--union", "union_name", default=None, help="The user's own union (reviewers: conflict of interest; union users: required).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
@clear_when_busy
def user_add(name, role, union_name, password_stdin):
    """Add an account; asks for the password (or reads it from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        users.add_user(open_migrated(), name, password, role, union_name)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已添加用户 {name}（{users.ROLES[role]}）。")


@user_group.command("list")
@with_appcontext
def user_list():
    """List accounts."""
    for user in users.list_users(open_migrated()):
        click.echo(f"{user['username']}\t{user['role']}\t{user['union_name'] or ''}")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@with_appcontext
@clear_when_busy
def user_passwd(name, password_stdin):
    """Set a user's password; every session of that user ends and the API token is revoked."""
    db = open_migrated()
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
@clear_when_busy
def user_role(name, role):
    """Change a user's role; every session of that user ends and the API token is revoked."""
    try:
        ended = users.set_role(open_migrated(), name, role)
    except users.UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name} 现在是{users.ROLES[role]}，结束了 {ended.sessions} 个登录会话，"
               f"撤销了 {ended.tokens} 个 API 令牌。")


@user_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's token instead of issuing one.")
@with_appcontext
@clear_when_busy
def user_token(name, revoke):
    """Issue a new API token for a user (printed last; replaces the old one), or revoke it."""
    from ..accounts import tokens

    db = open_migrated()
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


COMMANDS = [user_group]
