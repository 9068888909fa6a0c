"""Reading opening hours typed by people: a tokenizer and a small grammar.

:func:`parse_hours` gives an :class:`~stations.hours.week.OpeningHours` for a plain
weekly schedule, or a :class:`~stations.hours.calendar.Timetable` when the text
speaks of China's calendar (工作日, 法定节假日) or of seasons (夏季、冬季 with months).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .calendar import HOLIDAYS_CLOSED, HOLIDAYS_OPEN, Season, Timetable
from .week import _DAY_MIN, _EXAMPLE, _TZ, _WHOLE_DAY, HoursError, OpeningHours

# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_ZH_NUM = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
           "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_EN_DAYS = (("monday", "mon", "mo"), ("tuesday", "tues", "tue", "tu"),
            ("wednesday", "wed", "we"), ("thursday", "thurs", "thur", "thu", "th"),
            ("friday", "fri", "fr"), ("saturday", "sat", "sa"), ("sunday", "sun", "su"))
_EN_DAY_INDEX = {name: i for i, names in enumerate(_EN_DAYS) for name in names}
_GROUPS = {"每天": range(7), "每日": range(7), "天天": range(7), "全周": range(7),
           "全年无休": range(7), "daily": range(7),
           "工作日": range(5), "weekdays": range(5), "weekday": range(5),
           "周末": (5, 6), "週末": (5, 6), "双休日": (5, 6), "周六日": (5, 6), "周六周日": (5, 6), "weekends": (5, 6), "weekend": (5, 6)}

_NOT_LETTER = r"(?![a-z])"
_OPEN_SUFFIX = r"(?:开放|营业|服务|值守|运营|营运)?"
_TOKEN_PATTERNS = [
    ("ALWAYS", r"(?:全天候?\s*)?(?:24\s*(?:小时|hours?" + _NOT_LETTER + r"|hrs?" + _NOT_LETTER
               + r"|h" + _NOT_LETTER + r")|24\s*/\s*7(?![0-9])|7\s*[x×*]\s*24(?:\s*(?:小时|h"
               + _NOT_LETTER + r"))?)" + _OPEN_SUFFIX + r"|全天候?" + _OPEN_SUFFIX),
    ("OFF", r"(?:off|closed)" + _NOT_LETTER + r"|不开放|暂停开放|停止开放|暂停服务|不营业|休息|休馆|闭馆"
            r"|闭站|闭店|关闭|关门|停业|歇业|公休"),
    ("GROUP", "|".join(sorted((re.escape(k) + (_NOT_LETTER if k.isascii() else "") for k in _GROUPS),
                              key=len, reverse=True))),
    ("DAY", r"每?(?:周|週|星期|礼拜|禮拜)[一二三四五六日天七1-7]|(?:"
            + "|".join(sorted(_EN_DAY_INDEX, key=len, reverse=True)) + ")" + _NOT_LETTER),
    ("TIME", r"(?P<next>次日|翌日|第二天|隔天)?\s*"
             r"(?P<ap>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜间|夜里|早|晚)?\s*"
             r"(?:(?P<h>[0-9]+):(?P<m>[0-9]+)|(?P<h2>[0-9]+)\s*[点點时時]"
             r"(?:(?P<half>半)|整|(?P<m2>[0-9]+)分?)?)"),
    ("BARE", r"[一二三四五六日天]"),
    ("RANGE", r"[-~‐‑–—―−〜]+|至|到"),
    ("LIST", r"[,、&/+]|以及|和|及|与"),
    ("SEP", r"[;。|]"),
    ("COLON", r":"),
]
_TOKEN_RES = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _TOKEN_PATTERNS]
_SPACE_RE = re.compile(r"\s+")
_JUNK_RE = re.compile(r"[0-9]+[^\s;,、]*|[^\s;,、0-9]+")
_AM = {"凌晨", "早上", "早晨", "上午", "早"}
_PM = {"下午", "傍晚", "晚上", "夜间", "夜里", "晚"}


@dataclass
class _Tok:
    kind: str
    value: Any
    start: int  # index in the normalised text
    end: int


class _Parser:
    def __init__(self, text: str):
        self.text = text
        chars, origin = [], []
        for i, ch in enumerate(text):
            norm = unicodedata.normalize("NFKC", ch)
            chars.append(norm)
            origin.extend([i] * len(norm))
        self.norm = "".join(chars)
        self.origin = origin
        self.toks: list[_Tok] = []
        self.i = 0
        self.workdays: set[int] = set()  # weekdays last set by a 工作日 rule (China's calendar)
        self.rule_workdays: set[int] = set()

    # -- errors -------------------------------------------------------------

    def frag(self, start: int, end: int) -> str:
        if start >= end:
            return ""
        return self.text[self.origin[start]:self.origin[end - 1] + 1]

    def fail(self, start: int, end: int, reason: str) -> HoursError:
        fragment = self.frag(start, end)
        return HoursError(f"无法识别的开放时间 “{self.text}”：{reason.format(f=fragment)}",
                          text=self.text, fragment=fragment)

    # -- tokens -------------------------------------------------------------

    def tokenize(self) -> None:
        text, pos = self.norm, 0
        while pos < len(text):
            space = _SPACE_RE.match(text, pos)
            if space:
                pos = space.end()
                continue
            for kind, regex in _TOKEN_RES:
                m = regex.match(text, pos)
                if m and m.end() > pos:
                    self.toks.append(_Tok(kind, self.token_value(kind, m), pos, m.end()))
                    pos = m.end()
                    break
            else:
                junk = _JUNK_RE.match(text, pos)
                end = junk.end() if junk else pos + 1
                raise self.fail(pos, end, "不认识“{f}”，" + _EXAMPLE)

    def token_value(self, kind: str, m: re.Match) -> Any:
        word = m.group(0).lower()
        if kind == "GROUP":
            return tuple(_GROUPS[word])
        if kind == "DAY":
            return _ZH_NUM[word[-1]] if word[-1] in _ZH_NUM else _EN_DAY_INDEX[word]
        if kind == "BARE":
            return _ZH_NUM[word]
        if kind == "TIME":
            return self.time_value(m)
        return word

    def time_value(self, m: re.Match) -> tuple[int, bool]:
        bad = "时间“{f}”无效，应为 00:00 至 24:00 之间的时刻，如“08:00”或“8:30”"
        if m.group("h") is not None:
            hour_s, minute_s = m.group("h"), m.group("m")
            if len(hour_s) > 2 or len(minute_s) != 2:
                raise self.fail(m.start(), m.end(), bad)
            hour, minute = int(hour_s), int(minute_s)
        else:
            hour_s = m.group("h2")
            if len(hour_s) > 2 or (m.group("m2") is not None and len(m.group("m2")) > 2):
                raise self.fail(m.start(), m.end(), bad)
            hour = int(hour_s)
            minute = 30 if m.group("half") else int(m.group("m2") or 0)
        ap = m.group("ap")
        if ap in _AM:
            if hour > 12:
                raise self.fail(m.start(), m.end(), "时间“{f}”自相矛盾：上午/早上的钟点不应大于 12")
            if hour == 12 and ap == "凌晨":
                hour = 0
        elif ap in _PM:
            if 1 <= hour <= 11:
                hour += 12
            elif hour == 12 and ap != "下午":
                hour = 24
        elif ap == "中午" and 1 <= hour <= 5:
            hour += 12
        if hour > 24 or minute > 59 or (hour == 24 and minute):
            raise self.fail(m.start(), m.end(), bad)
        return hour * 60 + minute, m.group("next") is not None

    # -- grammar --------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def kind(self, ahead: int = 0) -> str | None:
        tok = self.peek(ahead)
        return tok.kind if tok else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> OpeningHours:
        if not self.text.strip():
            raise HoursError(f"开放时间为空，{_EXAMPLE}，或“24小时”", text=self.text, fragment="")
        self.tokenize()
        week: list[tuple[tuple[int, int], ...]] = [()] * 7
        some_days_only = False
        first = True
        while self.i < len(self.toks):
            if not first:
                while self.kind() in ("SEP", "LIST"):
                    self.take()
                if self.i >= len(self.toks):
                    break
            first = False
            self.rule_workdays = set()
            days, spans = self.parse_rule()
            some_days_only = some_days_only or set(days) != set(range(7))
            for day in days:  # later rules replace earlier ones for their days
                week[day] = spans
            self.workdays = (self.workdays - set(days)) | self.rule_workdays
        if some_days_only and not any(week):
            # "周日闭馆" alone: the open days and their hours are missing.
            raise self.fail(0, len(self.norm), "“{f}”只写了休息日，缺少开放的日期和时间，" + _EXAMPLE)
        return OpeningHours(days=tuple(week))

    def parse_rule(self) -> tuple[list[int], tuple[tuple[int, int], ...]]:
        tok = self.peek()
        if tok.kind in ("DAY", "GROUP"):
            days, days_start, days_end = self.parse_days()
            if self.kind() == "COLON" or (self.kind() == "LIST"
                                          and self.kind(1) in ("TIME", "ALWAYS", "OFF")):
                self.take()
        elif tok.kind in ("TIME", "ALWAYS", "OFF"):
            days, days_start, days_end = list(range(7)), tok.start, tok.start
        else:
            raise self.fail(tok.start, tok.end, "此处不应出现“{f}”，" + _EXAMPLE)

        body = self.peek()
        if body is None or body.kind not in ("TIME", "ALWAYS", "OFF"):
            if days_end > days_start:
                raise self.fail(days_start, days_end, "“{f}”后缺少开放时间，" + _EXAMPLE)
            raise self.fail(body.start, body.end, "此处不应出现“{f}”，" + _EXAMPLE)
        if body.kind == "ALWAYS":
            self.take()
            return days, (_WHOLE_DAY,)
        if body.kind == "OFF":
            self.take()
            return days, ()
        return days, self.parse_spans()

    def parse_days(self) -> tuple[list[int], int, int]:
        days: list[int] = []
        start = self.peek().start
        while True:
            tok = self.take()
            if tok.kind == "GROUP":
                days.extend(tok.value)
                if self.norm[tok.start:tok.end] == "工作日":
                    self.rule_workdays |= set(tok.value)
            elif self.kind() == "RANGE":
                if self.kind(1) in ("DAY", "BARE"):
                    self.take()
                    last = self.take().value
                    first = tok.value
                    days.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
                else:
                    dash = self.peek()
                    raise self.fail(tok.start, dash.end,
                                    "日期范围“{f}”不完整，应为类似“周一至周五”或“Mo-Fr”的写法")
            else:
                days.append(tok.value)
            if self.kind() == "LIST" and self.kind(1) in ("DAY", "GROUP", "BARE"):
                self.take()
            elif self.kind() not in ("DAY", "GROUP"):
                break
        return days, start, self.toks[self.i - 1].end

    def parse_spans(self) -> tuple[tuple[int, int], ...]:
        spans = []
        while True:
            first = self.take()
            start, next_day = first.value
            if next_day:
                raise self.fail(first.start, first.end, "开始时间“{f}”不应带“次日”")
            if start == _DAY_MIN:
                raise self.fail(first.start, first.end, "开始时间不能是“{f}”，请写“00:00”")
            if self.kind() != "RANGE":
                raise self.fail(first.start, first.end,
                                "时间段“{f}”缺少结束时间，应为类似“08:00-20:00”的写法")
            dash = self.take()
            if self.kind() != "TIME":
                raise self.fail(first.start, dash.end,
                                "时间段“{f}”缺少结束时间，应为类似“08:00-20:00”的写法")
            last = self.take()
            end, end_next_day = last.value
            if end_next_day and (end > start or end == _DAY_MIN):
                raise self.fail(first.start, last.end, "时间段“{f}”超过 24 小时")
            spans.append((start, end))
            if self.kind() == "LIST" and self.kind(1) == "TIME":
                self.take()
            elif self.kind() != "TIME":
                return tuple(spans)


@functools.lru_cache(maxsize=8192)
def parse_hours(text: str) -> OpeningHours:
    """Read opening hours written in Chinese or OpenStreetMap style.

    Full-width characters are folded first (``０８：００－２０：００``).  The
    text is a sequence of rules separated by ``;``/``；``/``，``/``、``/``。``
    or just spaces; each rule is an optional day selector followed by time
    spans, a whole-day word or a closed word.  A rule without days applies to
    every day.  A later rule replaces earlier ones for the days it names
    (``Mo-Fr 08:00-20:00; We 10:00-12:00`` leaves Wednesday 10-12 only).
    Days no rule names are closed.

    Accepted pieces:

    * days: ``周一``/``星期一``/``礼拜一``/``週一``/``周1``, ``周日``/``周天``,
      ``Mo``/``Mon``/``Monday`` ...; ranges with ``至 到 - ~ ～ —``
      (``周一至周五``, ``周一至五``, ``Mo-Fr``, wrapping ``周六至周一``); lists
      with ``、 , 和 及`` (``周一、三、五``, ``Sa,Su``); groups ``每天 每日
      天天 全周 工作日 周末 双休日``; an optional ``:`` after the days.
    * times: ``08:00``, ``8:00``, ``24:00`` (end of day), ``8点``, ``8点半``,
      ``8点30分``, ``20时``, with optional ``上午/下午/晚上/中午/凌晨``
      and ``次日`` before an end time; spans ``08:00-20:00``, several joined
      by ``,``/``，``/``、`` or spaces; ``end <= start`` runs past midnight.
    * whole day: ``24小时``, ``24h``, ``24/7``, ``7×24小时``, ``全天``,
      ``全天24小时``, ``全天候`` (optionally followed by ``开放``/``营业``),
      or ``00:00-24:00``.
    * closed: ``off``, ``closed``, ``休息``, ``闭馆``, ``关闭``, ``不开放``, ...

    Parameters
    ----------
    text : str
        The text to read.

    Returns
    -------
    OpeningHours

    Raises
    ------
    HoursError
        For empty text, unknown words (``周八``), invalid times (``25:00``,
        ``08:70``), days without a time, a time without an end, anything
        left over, or only closed days (``周日闭馆`` alone; ``off`` or
        ``不开放`` alone mean never open).  The message quotes the offending
        fragment.

    Examples
    --------
    >>> parse_hours("周一到周五 8:00-20:00，周末 9:00-17:00").to_text()
    'Mo-Fr 08:00-20:00; Sa,Su 09:00-17:00'
    >>> parse_hours("24小时").to_zh()
    '24小时'
    """
    if not isinstance(text, str):
        raise TypeError(f"开放时间应为字符串，却是 {type(text).__name__}")
    rest, holidays, remark = _take_remark(text)
    seasons = _split_seasons(text, rest)
    if seasons is None:
        parser = _Parser(rest)
        week = parser.parse()
        if not parser.workdays and holidays is None:
            return week
        seasons = [("", frozenset(range(1, 13)), week, parser.workdays)]
    return Timetable(tuple(Season(months, week, frozenset(workdays), label)
                           for label, months, week, workdays in seasons), holidays, remark)


# Remarks about statutory holidays, as organisers write them.  The brackets are part
# of the remark; what is left is read as weekly hours.
_HOLIDAY_WORDS = r"(?:国家)?(?:法定)?(?:节假日|节日|假日|法定假日|公众假期|假期)"
_REMARK_RES = [
    (HOLIDAYS_CLOSED, re.compile(r"[(（]?\s*(?:逢|遇)?" + _HOLIDAY_WORDS
                                 + r"(?:除外|休息|不开放|闭馆|闭站|关闭|休馆|停止开放|暂停开放|不营业|不开)\s*[)）]?")),
    (HOLIDAYS_OPEN, re.compile(r"[(（]?\s*" + _HOLIDAY_WORDS
                               + r"(?:也|均|都)?(?:正常|照常)?(?:开放|营业|不休)\s*[)）]?")),
]
_EDGE_SEPARATORS = " \t,，;；、。"


def _take_remark(text: str) -> tuple[str, str | None, str]:
    """(the text without its holiday remark, "closed"/"open"/None, the remark as written)."""
    for meaning, regex in _REMARK_RES:
        found = list(regex.finditer(text))
        if found:
            if len(found) > 1:
                raise HoursError(f"无法识别的开放时间 “{text}”：节假日说明写了不止一次",
                                 text=text, fragment=found[1].group(0))
            m = found[0]
            rest = (text[:m.start()].rstrip(_EDGE_SEPARATORS) + "；"
                    + text[m.end():].lstrip(_EDGE_SEPARATORS)).strip(_EDGE_SEPARATORS)
            return rest, meaning, m.group(0).strip()
    return text, None, ""


_SEASON_WORD = r"夏季|夏天|夏令时|冬季|冬天|冬令时|春季|秋季|春秋季|旺季|淡季"
_SEASON_RE = re.compile(r"(?P<label>" + _SEASON_WORD + r")?\s*[(（]?\s*(?P<a>[0-9]{1,2})\s*月?\s*"
                        r"(?:[-~‐‑–—―−〜]|至|到)\s*(?P<b>[0-9]{1,2})\s*月份?\s*[)）]?\s*[:：]?")
_BARE_SEASON_RE = re.compile(_SEASON_WORD)
_SEASON_EXAMPLE = "应写明月份，如“夏季（5-9月）08:00-19:00，冬季（10-4月）08:30-18:00”"


def _split_seasons(text: str, rest: str):
    """Seasonal hours as [(label, months, week, workdays)], or None when ``rest`` has
    no months.  A season named without its months is refused: when summer starts is
    not something to guess."""
    chars, origin = [], []
    for i, ch in enumerate(rest):
        folded = unicodedata.normalize("NFKC", ch)
        chars.append(folded)
        origin.extend([i] * len(folded))
    norm = "".join(chars)

    def written(m) -> str:  # the matched part as the organiser typed it
        start, end = m.start(), m.end()
        while end > start and norm[end - 1] in _EDGE_SEPARATORS + ":：":
            end -= 1
        return rest[origin[start]:origin[end - 1] + 1].strip() if end > start else ""

    heads = [m for m in _SEASON_RE.finditer(norm) if "月" in m.group(0)]
    bare = [m for m in _BARE_SEASON_RE.finditer(norm)
            if not any(h.start() <= m.start() < h.end() for h in heads)]
    if bare:
        word = bare[0].group(0)
        raise HoursError(f"无法识别的开放时间 “{text}”：“{word}”没有写明是哪几个月，{_SEASON_EXAMPLE}",
                         text=text, fragment=word)
    if not heads:
        return None
    if norm[:heads[0].start()].strip(_EDGE_SEPARATORS):
        fragment = norm[:heads[0].start()].strip(_EDGE_SEPARATORS)
        raise HoursError(f"无法识别的开放时间 “{text}”：“{fragment}”不属于任何季节，{_SEASON_EXAMPLE}",
                         text=text, fragment=fragment)
    seasons, seen = [], {}
    for i, head in enumerate(heads):
        a, b = int(head.group("a")), int(head.group("b"))
        if not (1 <= a <= 12 and 1 <= b <= 12):
            raise HoursError(f"无法识别的开放时间 “{text}”：月份“{written(head)}”无效，"
                             "应在 1 到 12 月之间", text=text, fragment=written(head))
        months = frozenset((a - 1 + k) % 12 + 1 for k in range((b - a) % 12 + 1))
        for month in months:
            if month in seen:
                raise HoursError(f"无法识别的开放时间 “{text}”：{month} 月同时属于“{seen[month]}”和"
                                 f"“{written(head)}”", text=text, fragment=written(head))
            seen[month] = written(head)
        end = heads[i + 1].start() if i + 1 < len(heads) else len(norm)
        body = norm[head.end():end].strip(_EDGE_SEPARATORS)
        parser = _Parser(body)
        week = parser.parse()
        seasons.append((head.group("label") or "", months, week, parser.workdays))
    missing = sorted(set(range(1, 13)) - set(seen))
    if missing:
        listed = "、".join(f"{m}月" for m in missing)
        raise HoursError(f"无法识别的开放时间 “{text}”：没有写 {listed}的开放时间，{_SEASON_EXAMPLE}",
                         text=text, fragment=text)
    return seasons


def is_open_now(hours: OpeningHours | str, at: datetime | None = None) -> bool:
    """Whether a station is open now (or at ``at``).

    Parameters
    ----------
    hours : OpeningHours or str
        A schedule, or text that :func:`parse_hours` reads.
    at : datetime.datetime, optional
        The moment to check; default the current time in Asia/Shanghai.

    Returns
    -------
    bool

    Raises
    ------
    HoursError
        When ``hours`` is text that cannot be read.
    """
    if isinstance(hours, str):
        hours = parse_hours(hours)
    return hours.is_open(datetime.now(_TZ) if at is None else at)
