"""Reading coordinates the way people type them into spreadsheets.

Accepted: plain decimals (``116.4``), full-width digits and punctuation as Chinese
input methods produce them (``１１６．４``), a trailing degree sign, hemisphere letters
or words (``116.4E``, ``东经116.4``), and degree-minute-second text
(``116°23'45.6"``, ``116°23′45.6″`` with the typographic primes Word and WPS write,
``116度23分45.6秒``).  Anything else raises CoordinateError with
the text that could not be read.
"""

from __future__ import annotations

import math
import re
import unicodedata

__all__ = ["CoordinateError", "parse_coordinate", "parse_lonlat_pair"]


class CoordinateError(ValueError):
    """A coordinate that cannot be read as a number of degrees."""


_HEMI = {"E": 1, "N": 1, "W": -1, "S": -1, "东经": 1, "北纬": 1, "西经": -1, "南纬": -1,
         "东": 1, "北": 1, "西": -1, "南": -1}
_DMS = re.compile(
    r"^(?P<deg>\d+(?:\.\d+)?)\s*(?:°|度|d)\s*"
    r"(?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|’|分|m)\s*)?"
    r"(?:(?P<sec>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|秒|s)\s*)?$",
    re.IGNORECASE,
)
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)


def _normalise(text: str) -> str:
    # NFKC turns full-width digits, '．', '－' and '＋' into ASCII.
    # NFKC also turns the double prime ″ (as Word and WPS write seconds) into two primes.
    text = unicodedata.normalize("NFKC", text).strip()
    text = text.replace("′′", '"').replace("′", "'").replace("‵", "'")
    return text.replace("−", "-").replace("。", ".").replace("，", ",")


def parse_coordinate(value) -> float:
    """Read one coordinate in decimal degrees.

    Parameters
    ----------
    value : str, int or float
        The cell as read from a file or a form.

    Returns
    -------
    float

    Examples
    --------
    >>> parse_coordinate("１１６．４")
    116.4
    >>> round(parse_coordinate("116°23'45.6\\"E"), 6)
    116.396
    """
    if value is None:
        raise CoordinateError("为空")
    if isinstance(value, bool):
        raise CoordinateError(f"“{value}”不是数字")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = _normalise(str(value))
        if not text:
            raise CoordinateError("为空")
        sign = 1
        for word in sorted(_HEMI, key=len, reverse=True):
            if text.upper().startswith(word):
                sign, text = _HEMI[word], text[len(word):].strip()
                break
            if text.upper().endswith(word):
                sign, text = _HEMI[word], text[: -len(word)].strip()
                break
        text = text.rstrip("°").strip()
        if _DECIMAL.match(text):
            number = sign * float(text)
        else:
            match = _DMS.match(text)
            if not match:
                raise CoordinateError(f"“{value}”不是数字（应为十进制度数如 39.909，"
                                      "或度分秒如 39°54'32\"）")
            minutes = float(match["min"] or 0)
            seconds = float(match["sec"] or 0)
            if minutes >= 60 or seconds >= 60:
                raise CoordinateError(f"“{value}”：分和秒必须小于 60")
            number = sign * (float(match["deg"]) + minutes / 60 + seconds / 3600)
    if not math.isfinite(number):
        raise CoordinateError(f"“{value}”不是有限的数字")
    return number


def parse_lonlat_pair(value) -> tuple[float, float]:
    """Read ``"116.397,39.909"`` (longitude first, as Amap and GeoJSON write it)."""
    text = _normalise(str(value or ""))
    parts = [p for p in re.split(r"[,;\s]+", text) if p]
    if len(parts) != 2:
        raise CoordinateError(f"“{value}”不是“经度,纬度”格式")
    return parse_coordinate(parts[0]), parse_coordinate(parts[1])
