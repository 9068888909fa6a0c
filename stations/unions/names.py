"""Union names: one key per name, and the near misses worth asking about.

Two spellings name the same union when they agree after normalising: Unicode NFKC
(full-width brackets, letters and spaces become half-width), every kind of bracket made
round, every space removed, Latin letters case-folded.  That is the only way a name
resolves (exactly, or by an alias); a name that is close but not equal is never taken
for a union, only named as a possible match ("是否指 …？") for a person to decide.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

__all__ = ["KINDS", "STATUSES", "UnionError", "name_key", "stem", "close_names", "did_you_mean"]

KINDS = {
    "national": "全国总工会",
    "provincial": "省级总工会",
    "municipal": "市总工会",
    "district": "区总工会",
    "industry": "产业工会",
    "street": "街道/乡镇工会",
    "grassroots": "基层工会",
}
STATUSES = {"active": "已确认", "unplaced": "待确认归属"}

_BRACKETS = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")", "【": "(", "】": ")",
                           "〔": "(", "〕": ")", "〖": "(", "〗": ")", "「": "(", "」": ")",
                           "『": "(", "』": ")", "〈": "(", "〉": ")", "《": "(", "》": ")"})
_SPACE = re.compile(r"\s+")
_PARENS = re.compile(r"\([^()]*\)")
_SUFFIXES = ("联合工会", "委员会", "联合会", "总工会", "工会")


class UnionError(ValueError):
    """A refused union operation; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str = "union", status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


def name_key(name) -> str:
    """The key two spellings of one union share ('' for no name)."""
    text = unicodedata.normalize("NFKC", str(name or "")).translate(_BRACKETS)
    return _SPACE.sub("", text).casefold()


def stem(key: str) -> str:
    """A key without bracketed parts and union suffixes: what a variant keeps of a name."""
    text = _PARENS.sub("", key)
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, changed = text[: -len(suffix)], True
    return text


def close_names(key: str, candidates, *, limit: int = 3) -> list[str]:
    """Names among ``candidates`` ({key: name}) close to ``key`` but not equal to it.

    Close: the same stem (a bracketed branch or a suffix apart), one stem holding the
    other (at least four characters), or a similarity of 0.8 or more.  Best first."""
    if not key:
        return []
    mine = stem(key)
    scored = {}
    for other, name in candidates.items():
        if other == key or not other:
            continue
        theirs = stem(other)
        if mine and mine == theirs:
            score = 2.0
        elif min(len(mine), len(theirs)) >= 4 and (mine in theirs or theirs in mine):
            score = 1.5
        elif abs(len(other) - len(key)) <= max(len(key), len(other)) * 0.4:
            ratio = difflib.SequenceMatcher(None, key, other, autojunk=False).ratio()
            if ratio < 0.8:
                continue
            score = ratio
        else:
            continue
        if score > scored.get(name, (0,))[0]:
            scored[name] = (score, name)
    return [name for _, name in sorted(scored.values(), key=lambda s: (-s[0], s[1]))[:limit]]


def did_you_mean(names) -> str:
    """'（是否指“A”或“B”？）' for possible matches, '' for none."""
    names = list(names)
    if not names:
        return ""
    return "（是否指" + "或".join(f"“{n}”" for n in names) + "？）"
