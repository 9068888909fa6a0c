"""A month's ledger sheet as district unions make it: the table inside its frame.

Above the table: a title (朝阳区户外劳动者服务站点服务台账（2026年11月）) and lines such
as 填报单位; the title's year completes dates written 11月3日.  The header is one row,
or two: a merged group (来访人次, 服务次数) over the item names, with 站点编号, 日期 and
备注 merged down both rows; a bare 其他 under a group is that group's.  Below the table:
合计 rows, 填表人/联系电话/审核人 lines and 注 notes, skipped and quoted as warnings (the
station import's rule, ``footer_kind``), while a line with a readable date is always a
ledger row.  Columns are found by header (Chinese or the API's codes).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ..registry.importer.checks import footer_kind
from ..registry.readers import FileProblem
from .codes import COUNT_COLUMNS, SERVICES, VISITORS, LedgerError
from .common import parse_date

__all__ = ["HEADERS", "LABELS", "Layout", "read_layout", "title_year", "skipped_kind"]

HEADERS = {
    "station_id": ["站点编号", "驿站编号", "站点id", "驿站id", "编号", "id", "station_id", "station"],
    "station_name": ["站点名称", "驿站名称", "站点", "驿站", "名称", "name", "station_name"],
    "date": ["日期", "服务日期", "台账日期", "date", "day"],
    "note": ["备注", "说明", "note", "notes"],
}
for _code, _label in VISITORS.items():
    HEADERS["v_" + _code] = [_label, f"v_{_code}", f"visitors.{_code}"] + (
        [_code] if _code != "other" else ["其他户外劳动者人次", "其他人员"])
for _code, _label in SERVICES.items():
    HEADERS["s_" + _code] = [_label + "服务", f"s_{_code}", f"services.{_code}"] + (
        [_label, _code] if _code != "other" else ["其他服务次数"])
HEADERS["v_driver"] += ["出租车司机", "网约车司机", "出租网约车司机"]
HEADERS["s_rest"] += ["休息", "避雨", "休息避雨"]
HEADERS["s_legal_aid"] += ["维权", "法律咨询", "维权法律咨询"]

LABELS = {"station_id": "站点编号", "station_name": "站点名称", "date": "日期", "note": "备注",
          **{"v_" + c: label for c, label in VISITORS.items()},
          **{"s_" + c: label + "服务" for c, label in SERVICES.items()}}


def _norm(text) -> str:
    text = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # 外卖骑手(人次) -> 外卖骑手
    return re.sub(r"[\s*:：_\-/、]+", "", text)


_LOOKUP = {}
for _name, _aliases in HEADERS.items():
    for _alias in _aliases:
        _LOOKUP.setdefault(_norm(_alias), _name)

# Words of a group label over item names: visitors first (服务对象, 服务人次 are people).
_VISITOR_GROUP = ("来访", "人次", "人员", "对象", "群体", "人数")
_SERVICE_GROUP = ("服务", "项目", "内容", "次数")


@dataclass
class Layout:
    """Where the table is: column names as shown, {field: column index}, rows read past
    the header that are data rows, and the year (and month) the title names."""
    shown: list
    mapping: dict
    pending: list = field(default_factory=list)
    title: str = ""
    year: int | None = None


def _map(names) -> dict:
    found = {}
    for i, cell in enumerate(names):
        name = _LOOKUP.get(_norm(cell))
        if name and name not in found:
            found[name] = i
    return found


def _text(cell) -> str:
    return "" if cell is None else " ".join(str(cell).split())


def _group_of(label: str) -> str | None:
    if any(w in label for w in _VISITOR_GROUP):
        return "v"
    if any(w in label for w in _SERVICE_GROUP):
        return "s"
    return None


def _is_lower_header(lower, found) -> bool:
    """Whether the row under a header row names items (the second row of a two-row header):
    it names a count column the first row lacks, and holds no date where dates go."""
    at = found["date"]
    if at < len(lower) and _text(lower[at]):
        return False
    return any(n in COUNT_COLUMNS and n not in found for n in _map([_text(c) for c in lower]))


def _combine(upper, lower):
    """(shown names, names to map) of a two-row header: an item under a merged group
    takes the group's name for what it counts; a cell merged down keeps the upper name."""
    shown, keys, group, group_label = [], [], None, ""
    for i in range(max(len(upper), len(lower))):
        u = _text(upper[i]) if i < len(upper) else ""
        low = _text(lower[i]) if i < len(lower) else ""
        if u:
            is_group = _LOOKUP.get(_norm(u)) is None and bool(low)
            group, group_label = (_group_of(u), u) if is_group else (None, "")
        if not low:  # merged down both rows (站点编号, 日期, 备注), or an empty column
            shown.append(u)
            keys.append(u)
            continue
        shown.append(f"{group_label}·{low}" if group_label else low)
        if _norm(low) == "其他" and group:
            keys.append("其他户外劳动者" if group == "v" else "其他服务")
        else:
            keys.append(low)
    return shown, keys


_TITLE_MONTH = re.compile(r"(20\d{2})\s*年\s*(?:(\d{1,2})\s*月(?!\s*\d{1,2}\s*[日号]))?")


def title_year(lines) -> int | None:
    """The year a sheet's title names (朝阳区…服务台账（2026年11月）); a year and month
    beats a full date (填报日期：2026年12月1日 is when it was filled in, not its month)."""
    fallback = None
    for line in lines:
        text = unicodedata.normalize("NFKC", line)
        for match in _TITLE_MONTH.finditer(text):
            if match[2] or not re.match(r"\s*\d{1,2}\s*月", text[match.end():]):
                return int(match[1])
            fallback = fallback or int(match[1])
    return fallback


def read_layout(table) -> Layout:
    """The header (one row or two) within the first ten rows, or FileProblem."""
    above = []
    for number, cells in table:
        found = _map([_text(c) for c in cells])
        if "date" in found and len(found) >= 2:
            break
        above.append(" ".join(_text(c) for c in cells if _text(c)))
        if number >= 10:
            cells = None
            break
    else:
        cells = None
    if cells is None:
        raise FileProblem("找不到表头：前 10 行中没有一行包含“日期”和“站点编号”“外卖骑手”等列名")
    shown = keys = [_text(c) for c in cells]
    pending = []
    following = next(table, None)
    if following is not None:
        if _is_lower_header(following[1], found):
            shown, keys = _combine(cells, following[1])
        else:
            pending.append(following)
    mapping = _map(keys)
    bare_other = [i for i, key in enumerate(keys) if _norm(key) == "其他" and i not in mapping.values()]
    if bare_other:
        # The form and the page call the service "其他"; beside a 其他户外劳动者 column a bare
        # 其他 can only be the service.  Alone it could be either: say so, never drop it.
        if "v_other" in mapping and "s_other" not in mapping and len(bare_other) == 1:
            mapping["s_other"] = bare_other[0]
        else:
            raise FileProblem("“其他”列不清楚是来访人次还是服务次数：请把列名改为“其他户外劳动者”或“其他服务”"
                              "（或把它放在“来访人次”“服务次数”合并表头的下面）")
    if "station_id" not in mapping and "station_name" not in mapping:
        raise FileProblem("缺少“站点编号”列（也可写作 id、station_id；或用唯一的“站点名称”）")
    if not any(name in mapping for name in COUNT_COLUMNS):
        raise FileProblem("没有任何来访或服务的列：例如“外卖骑手”“快递员”“饮水”“热饭”"
                          "（两行表头时，这些列名应在第二行）")
    title = next((line for line in above if line), "")
    return Layout(shown=shown, mapping=mapping, pending=pending, title=title[:80], year=title_year(above))


def skipped_kind(cells, mapping: dict, in_note: bool, year: int | None) -> str | None:
    """'footer' or 'note' for a line under (or in) the table that is not a ledger row.
    A line with a readable date or a station number is a row whatever its words (its
    problems are reported, never skipped), and a 备注 of a row may start with 说明：."""
    def cell(name):
        at = mapping.get(name)
        return cells[at] if at is not None and at < len(cells) else None

    if _text(cell("date")):
        try:
            parse_date(cell("date"), year=year)
            return None
        except LedgerError:
            pass
    if re.fullmatch(r"\d{1,18}(\.0*)?", unicodedata.normalize("NFKC", _text(cell("station_id")))):
        return None
    note_at = mapping.get("note")
    kind = footer_kind([c for i, c in enumerate(cells) if i != note_at], in_note)
    if kind or _text(cell("date")) or _text(cell("station_id")) or _text(cell("station_name")):
        return kind
    return footer_kind(cells, in_note)  # 审核人：… written in the 备注 column of an empty line
