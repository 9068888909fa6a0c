"""Accounts: roles, slow password hashes (scrypt from the standard library),
server-side sessions and limits on failed logins.

A login is a row in ``sessions``; the browser's signed cookie carries a random
token whose SHA-256 is the row's id.  Logging out deletes that row; changing a
user's password or role deletes all of the user's rows and revokes the user's
API token (``tokens``), so a cookie or a token saved earlier opens nothing.  Failed logins are counted per account and per client
(``limits``) before any password is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from typing import NamedTuple

from . import limits as _limits
from . import tokens as _tokens
from .limits import Limit, RateLimited
from ..storage import now_iso, write_transaction
from ..text import forbidden_character, refusal
from ..unions import store as unions
from ..unions.names import UnionError, name_key
from ..unions.scope import in_scope, provisional_parent, scope_label

__all__ = ["ROLES", "Ended", "RateLimited", "UserError", "add_user", "authenticate", "end_session",
           "end_user_logins", "end_user_sessions", "get_user", "hash_password", "list_users", "log_in",
           "same_union", "session_user", "set_password", "set_role", "speaks_for", "start_session",
           "verify_password"]

ROLES = {"admin": "管理员", "reviewer": "评审专家", "planner": "规划人员", "union": "基层工会"}
_N, _R, _P = 2**14, 8, 1  # scrypt cost: about 50 ms a hash, 16 MiB of memory
_USERNAME = re.compile(r"^[\w.\-@]{2,40}$")


class UserError(ValueError):
    """A bad username, role or password, or a duplicate user."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n),
                                   r=int(r), p=int(p), dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"角色“{role}”不存在，应为 {'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}")


def _check_password(password: str) -> None:
    if len(password or "") < 8:
        raise UserError("密码太短：至少 8 个字符")
    found = forbidden_character(password, multiline=False)
    if found:
        raise UserError(f"密码{refusal(found)}")


def add_user(db, username: str, password: str, role: str, union_name: str | None = None, *,
             create_union: bool = False, scope=None) -> int:
    """Create an account; raises UserError on a bad name, role, short password or duplicate.

    The union must name a union record, exactly or by an alias (else UserError naming
    the possible matches); ``create_union`` adds an unknown one as unplaced instead.
    ``scope`` (a ``stations.unions.scope.Scope``: the creating admin's) limits the union
    to the creator's subtree: never an account of a union above it or beside it."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise UserError(f"用户名“{username}”不可用：应为 2–40 个字母、数字或 . - _ @")
    _check_role(role)
    _check_password(password)
    union_name = " ".join((union_name or "").split()) or None
    found = forbidden_character(union_name or "", multiline=False)
    if found:
        raise UserError(f"工会名称{refusal(found)}")
    if role == "union" and not union_name:
        raise UserError("基层工会账号须指明它代表的工会（--union 某某工会）")
    if get_user(db, username):
        raise UserError(f"用户 {username} 已存在")
    with write_transaction(db):
        union_id = None
        if union_name and _has_unions(db):
            union_id, union_name = _resolve_union(db, union_name, create_union, username, scope)
        _check_scope(db, scope, union_id, username)
        row = {"username": username, "password_hash": hash_password(password), "role": role,
               "union_name": union_name or None, "created_at": now_iso()}
        if union_id is not None:
            row["union_id"] = union_id
        db["users"].insert(row)
    return get_user(db, username)["id"]


def _has_unions(db) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unions'").fetchone() is not None


def _check_scope(db, scope, union_id, username) -> None:
    """A scoped admin acts on accounts of its own subtree only (never on admins above it)."""
    if scope is not None and not in_scope(db, scope, union_id):
        raise UserError(f"用户 {username} 的工会不在您的管辖范围（{scope_label(scope)}）内；"
                        "只能管理本工会及下级工会的账号")


def _resolve_union(db, union_name, create, username, scope=None):
    if create:
        try:
            found = unions.resolve_or_create(db, union_name, username=username,
                                             parent_id=provisional_parent(scope) if scope is not None else None)
        except UnionError as exc:
            raise UserError(str(exc)) from None
        return found[0], found[1]
    try:
        union = unions.require_union(db, union_name)
    except UnionError as exc:
        raise UserError(str(exc)) from None
    return union["id"], union["name"]


def same_union(a, b) -> bool:
    """Whether two union names name the same union (brackets' width and spacing aside,
    as union records match names; an empty name is none)."""
    a, b = name_key(a), name_key(b)
    return bool(a) and a == b


def speaks_for(user, station) -> bool:
    """Whether ``user`` may act for ``station``: an admin for any, a ``union`` user only
    for its own union's stations (``stations.host_union`` equal to ``users.union_name``)."""
    if user is None:
        return False
    if user["role"] == "admin":
        return True
    if user["role"] != "union":
        return False
    if user.get("union_id") is not None and station.get("host_union_id") is not None:
        return user["union_id"] == station["host_union_id"]
    return same_union(user["union_name"], station.get("host_union"))


def get_user(db, username=None, *, user_id=None) -> dict | None:
    if user_id is not None:
        rows = list(db.query("SELECT * FROM users WHERE id = ?", [user_id]))
    else:
        rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    return rows[0] if rows else None


def list_users(db) -> list[dict]:
    return list(db.query("SELECT id, username, role, union_name, created_at FROM users ORDER BY id"))


def authenticate(db, username: str, password: str) -> dict | None:
    """The user if the password matches, else None (same work either way)."""
    user = get_user(db, (username or "").strip())
    if user is None:
        hash_password(password or "")  # spend the same time: no user-enumeration by timing
        return None
    return user if verify_password(user["password_hash"], password or "") else None


def _existing(db, username: str) -> dict:
    user = get_user(db, (username or "").strip())
    if user is None:
        raise UserError(f"没有用户 {username}")
    return user


def set_password(db, username: str, password: str, *, scope=None) -> Ended:
    """Give a user a new password; every session ends and the API token is revoked
    (``scope``: the changing admin's; a user outside it is refused)."""
    user = _existing(db, username)
    _check_scope(db, scope, user.get("union_id"), username)
    _check_password(password)
    digest = hash_password(password)
    with write_transaction(db):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [digest, user["id"]])
        return end_user_logins(db, user["id"])


def set_role(db, username: str, role: str, *, scope=None) -> Ended:
    """Give a user another role; every session ends and the API token is revoked
    (``scope``: the changing admin's; a user outside it is refused)."""
    user = _existing(db, username)
    _check_scope(db, scope, user.get("union_id"), username)
    _check_role(role)
    if role == "union" and not user["union_name"]:
        raise UserError(f"用户 {username} 没有登记工会，不能改为基层工会账号；请用 --union 另建一个基层工会账号")
    with write_transaction(db):
        db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user["id"]])
        return end_user_logins(db, user["id"])


class Ended(NamedTuple):
    """What ``end_user_logins`` ended: sessions, and API tokens (0 or 1)."""

    sessions: int
    tokens: int


def end_user_logins(db, user_id: int) -> Ended:
    """End every way a user is signed in: all sessions and the API token, in one transaction.

    What changes a user's password or role calls this: a token a script kept would
    otherwise go on acting with the old role, or for a password that was changed
    because it leaked."""
    with write_transaction(db):
        return Ended(end_user_sessions(db, user_id), _tokens.revoke_tokens(db, user_id))


# --- sessions --------------------------------------------------------------

def _session_id(token: str) -> str:
    # Only the token's hash is stored: a copy of the database opens no session.
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db, user_id: int, *, hours: float, now: float | None = None) -> str:
    """Open a session for ``user_id`` lasting ``hours``; returns the token for the cookie."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    with write_transaction(db):
        db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])  # forget ended ones
        db.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                   [_session_id(token), int(user_id), now_iso(), now + hours * 3600])
    return token


def session_user(db, token: str | None, *, now: float | None = None) -> dict | None:
    """The user whose live session ``token`` names, else None (ended, expired or unknown)."""
    if not token or not isinstance(token, str):
        return None
    now = time.time() if now is None else now
    rows = list(db.query("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id "
                         "WHERE sessions.id = ? AND sessions.expires_at > ?",
                         [_session_id(token), now]))
    return rows[0] if rows else None


def end_session(db, token: str | None) -> None:
    """End one session (logout)."""
    if token and isinstance(token, str):
        with write_transaction(db):
            db.execute("DELETE FROM sessions WHERE id = ?", [_session_id(token)])


def end_user_sessions(db, user_id: int) -> int:
    """End every session of one user; returns how many."""
    with write_transaction(db):
        return db.execute("DELETE FROM sessions WHERE user_id = ?", [int(user_id)]).rowcount


# --- failed logins ---------------------------------------------------------

KNOWN_DAYS = 30  # an account that signed in from a client stays known there this long (to 2x)


def log_in(db, username: str, password: str, *, client: str, secret: str, per_account: int,
           per_client: int, window_s: int, now: float | None = None) -> dict | None:
    """Check a password under the failed-login limits; the user, or None if wrong.

    The limits are read before the password is hashed: past either of them
    RateLimited is raised (scope ``client`` or ``account``) and no scrypt time
    is spent.  Only a wrong password is counted, in two buckets: the client's
    (``client_key`` of its address) and the typed account name's.  A success
    counts nothing and clears nothing, so a client that knows one password
    cannot log in with it between guesses to keep guessing another account,
    and an API script making many correct Basic-auth calls at once is never
    refused.  The account limit holds whichever client guesses; it is the one
    a slow attack from many addresses meets.  Concurrent wrong guesses can pass
    the limit by at most the number of attempts in flight at that moment.

    One exception to the client limit: an account that signed in from this client
    within the last ``KNOWN_DAYS`` days (a union office's staff behind its one
    address) still gets its password checked past the client limit, under its
    own account limit.  The right password logs in; a wrong one is counted and
    answered RateLimited (``client``) like every other attempt past the limit.
    So the office is not locked out by one machine's failures, while guessing
    from that address stays bounded: the limit's count for every other account
    name, and each known account's own limit for those.
    """
    name = (username or "").strip()
    account_key = _limits.name_key(name, secret)
    rules = [Limit(f"login-client:{client}", per_client, window_s, "client"),
             Limit(f"login-account:{account_key}", per_account, window_s, "account")]
    known = Limit(f"login-known:{client}:{account_key}", 1, KNOWN_DAYS * 86400, "known")
    past_client_limit = None
    try:
        _limits.peek(db, rules, now=now)
    except RateLimited as exc:
        if exc.scope != "client" or not any(_limits.counts(db, known, now=now)):
            raise
        _limits.peek(db, rules[1:], now=now)  # the account's own limit still holds
        past_client_limit = exc
    user = authenticate(db, name, password)
    if user is None:
        _limits.record(db, rules, now=now)
        if past_client_limit is not None:
            raise past_client_limit
        return None
    if not _limits.counts(db, known, now=now)[1]:  # one write per account, client and month
        _limits.record(db, [known], now=now)
    return user
