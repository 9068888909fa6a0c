"""Text people type: the one rule on characters no stored text may hold.

Every door applies it: the web layer refuses a request carrying such a character in
any field (``stations/web/text_guard.py``), and the core's own clean-text helpers
(stations, campaigns, the ledger, feedback, accounts) refuse it again, for the command
line and for any caller that is not a web request.

Refused: C0 control characters (NUL, ESC …), DEL, C1 controls, lone surrogates and the
two non-characters XML refuses.  Tab and line breaks are text where several lines can
be meant (a note, an address); a one-line field refuses them too.
"""

from __future__ import annotations

import re

__all__ = ["forbidden_character", "describe_character", "refusal", "shown", "SCHEMA_PATTERN"]

_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The same rule for an OpenAPI/JSON Schema string, in the regex syntax ECMA-262 and Python share:
# what the API document promises about any text a request may carry.  Lone surrogates are left
# out: no UTF-8 text (a query string, a JSON body) can hold one.  Hex escapes (backslash x),
# because schemathesis mistranslates backslash-u ones; the two non-characters stand as themselves.
SCHEMA_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\ufffe\uffff]*$"
_NAMES = {0: "NUL", 9: "制表符", 10: "换行符", 13: "回车符", 27: "ESC", 127: "DEL"}


def forbidden_character(value: str, *, multiline: bool = True) -> str | None:
    """The first character of ``value`` no stored text may hold, else None.

    Examples
    --------
    >>> forbidden_character("留言\\x00")
    '\\x00'
    >>> forbidden_character("两行\\n留言") is None
    True
    >>> forbidden_character("两行\\n名称", multiline=False)
    '\\n'
    """
    found = (_MULTILINE if multiline else _ONE_LINE).search(value)
    return found.group() if found else None


def describe_character(char: str) -> str:
    """``控制字符 U+0000（NUL）``, ``无效字符 U+D800``: the character named, never shown."""
    code = ord(char)
    label = _NAMES.get(code)
    kind = "无效字符" if code >= 0xD800 else "控制字符"
    return f"{kind} U+{code:04X}" + (f"（{label}）" if label else "")


def refusal(char: str) -> str:
    """The sentence after a field's name: ``含有控制字符 U+0000（NUL），请删除后再提交``."""
    return f"含有{describe_character(char)}，请删除后再提交"


def shown(value: str) -> str:
    """``value`` with each forbidden character replaced by U+FFFD, to show a refused text
    back in its form without sending the character itself."""
    return _MULTILINE.sub("\ufffd", value)
