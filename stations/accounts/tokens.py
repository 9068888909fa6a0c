"""Per-user API tokens for scripts: ``Authorization: Bearer <token>``.

A user has at most one token; issuing a new one replaces the old.  Only the
token's SHA-256 is stored, so a copy of the database opens nothing.  A bearer
call carries no cookie, hence no ambient authority: it needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets

from . import limits as _limits
from ..storage import now_iso, write_transaction

__all__ = ["PREFIX", "issue_token", "revoke_tokens", "token_user", "token_user_limited"]

PREFIX = "yz_"


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db, user_id: int) -> str:
    """A new token for ``user_id`` (replacing any earlier one); returned once, never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with write_transaction(db):
        db.execute("DELETE FROM api_tokens WHERE user_id = ?", [int(user_id)])
        db.execute("INSERT INTO api_tokens (id, user_id, created_at) VALUES (?, ?, ?)",
                   [_token_id(token), int(user_id), now_iso()])
    return token


def revoke_tokens(db, user_id: int) -> int:
    """Revoke the user's token; returns how many were revoked (0 or 1)."""
    with write_transaction(db):
        return db.execute("DELETE FROM api_tokens WHERE user_id = ?", [int(user_id)]).rowcount


def token_user(db, token: str | None) -> dict | None:
    """The user a live token belongs to, else None."""
    if not token or not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
        return None
    rows = list(db.query("SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
                         "WHERE api_tokens.id = ?", [_token_id(token)]))
    return rows[0] if rows else None


def token_user_limited(db, token: str | None, *, client: str, per_client: int, window_s: int,
                       now: float | None = None) -> dict | None:
    """``token_user`` under the client's failed-login limit (the bucket wrong passwords use).

    A live token costs nothing more.  An unknown one is counted; past the limit
    ``RateLimited`` (scope ``client``) is raised, so a client cannot go on probing
    tokens (nor hide password guesses among them)."""
    user = token_user(db, token)
    if user is None:
        rules = [_limits.Limit(f"login-client:{client}", per_client, window_s, "client")]
        _limits.peek(db, rules, now=now)
        _limits.record(db, rules, now=now)
    return user
