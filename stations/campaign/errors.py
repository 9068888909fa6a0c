"""The one error every campaign action raises: a Chinese message, the field, an HTTP status."""

from __future__ import annotations

__all__ = ["CampaignError", "NotFound"]


class CampaignError(ValueError):
    """A refused campaign action.

    ``message`` is Chinese (shown to people and in API answers), ``field`` names the
    input at fault (``None`` when no single field is), ``status`` is the HTTP status a
    web layer answers with: 400 bad input, 403 not allowed (``record`` asks for the
    refusal to be written to the campaign's log), 409 not now (stage, locked review).
    """

    def __init__(self, message: str, field: str | None = None, status: int = 400, *,
                 detail: dict | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field
        self.status = status
        self.detail = detail or {}


class NotFound(LookupError):
    """No such campaign, nomination, objection or photo."""
