"""Accounts: roles and slow password hashes (scrypt from the standard library)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from .storage import now_iso, write_transaction

__all__ = ["ROLES", "UserError", "add_user", "authenticate", "get_user", "hash_password",
           "list_users", "verify_password"]

ROLES = {"admin": "管理员", "reviewer": "评审专家", "planner": "规划人员"}
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


def add_user(db, username: str, password: str, role: str, union_name: str | None = None) -> int:
    """Create an account; raises UserError on a bad name, role, short password or duplicate."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise UserError(f"bad username {username!r}: 2–40 letters, digits, . - _ @")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if len(password or "") < 8:
        raise UserError("password too short: at least 8 characters")
    if get_user(db, username):
        raise UserError(f"user {username!r} already exists")
    with write_transaction(db):
        db["users"].insert({"username": username, "password_hash": hash_password(password),
                            "role": role, "union_name": union_name or None,
                            "created_at": now_iso()})
    return get_user(db, username)["id"]


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
