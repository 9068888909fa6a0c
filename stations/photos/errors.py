"""The one error the photo checks raise."""

from __future__ import annotations

__all__ = ["PhotoRefused"]


class PhotoRefused(ValueError):
    """A photo that is not taken.  ``message`` is Chinese and follows the photo's name
    ("照片“a.jpg”" + message); ``status`` is 400, or 503 when the server is busy."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
