"""Reading station lists from CSV, XLSX and GeoJSON files, row by row, within limits.

Every reader streams: memory stays bounded however large or hostile the file.
Limits are enforced while reading (a sheet that declares a million rows, a row
of 16,384 columns, a cell of megabytes, JSON nested 200,000 deep), and anything
a reader cannot make sense of raises :class:`FileProblem` with a Chinese message
that says what is wrong with the file — never another exception.

A reader yields lists of cells; cell values are text (spreadsheet defusing undone)
or numbers.  GeoJSON yields features (dicts).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from .exporter import undefuse

__all__ = ["FileProblem", "describe_file", "FORMAT_LABELS", "ENCODING_LABELS", "DATUM_LABELS", "sniff_stream", "MAX_ROWS", "MAX_COLUMNS", "MAX_CELL_CHARS", "MAX_JSON_DEPTH",
           "sniff_format", "detect_encoding", "iter_csv", "iter_xlsx", "iter_geojson"]

# What people call the files and encodings the readers tell apart (never the codes).
FORMAT_LABELS = {"xlsx": "Excel 工作簿（.xlsx）", "csv": "CSV 文本", "geojson": "GeoJSON"}
ENCODING_LABELS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16", "gb18030": "GBK/GB18030"}
DATUM_LABELS = {"wgs84": "WGS-84（GPS）", "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）"}


def describe_file(fmt: str | None, encoding: str | None = None) -> str:
    """A file's kind as a person says it: "CSV 文本（UTF-8 编码）"; "未能识别" before its
    format was known (a file refused at its first bytes)."""
    if not fmt:
        return "未能识别"
    text = FORMAT_LABELS.get(fmt, fmt)
    if encoding:
        text += f"（{ENCODING_LABELS.get(encoding, encoding.upper())} 编码）"
    return text


MAX_ROWS = 500_000          # station rows in one import
MAX_COLUMNS = 100           # columns read from a sheet; data further right is refused
MAX_CELL_CHARS = 131_072    # csv's own field limit, kept: no station field is near it
MAX_LINE_BYTES = 8 << 20    # one CSV line (all its cells) at most
MAX_JSON_DEPTH = 32         # a Point feature needs 4
MAX_SHEET_XML = 2 << 30     # uncompressed worksheet XML
MAX_SHARED_STRINGS = 256 << 20
_CHUNK = 1 << 20


class FileProblem(ValueError):
    """The file as a whole cannot be read (wrong format, broken, beyond a limit…)."""


def sniff_stream(stream, filename: str) -> str:
    """``sniff_format`` of a seekable binary stream (left at its start); FileProblem for
    an empty file."""
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise FileProblem("文件是空的")
    return sniff_format(head, filename)


def sniff_format(head: bytes, filename: str) -> str:
    """'xlsx', 'geojson' or 'csv' from the first bytes and the file name."""
    suffix = Path(filename or "").suffix.lower()
    if head[:4] == b"PK\x03\x04":
        return "xlsx"
    if suffix == ".xls" or head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileProblem("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    if suffix == ".xlsx":
        raise FileProblem("文件扩展名是 .xlsx，但内容不是 XLSX（ZIP）文件：可能已损坏或改过扩展名")
    if suffix in (".geojson", ".json") or head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "geojson"
    return "csv"


# --- CSV -----------------------------------------------------------------------------

def detect_encoding(stream) -> tuple[str, int]:
    """(encoding, number of lines) of a text file, reading it once in chunks.

    UTF-8 (with or without a byte-order mark) is tried first, then GB18030 (which
    reads GBK and GB2312, as Chinese Excel saves CSV); UTF-16 with a byte-order mark
    is read too.  A file that starts as UTF-8 and turns into something else later
    (text pasted from a GBK file) is refused: guessing would garble half of it.
    """
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        lines, failure = _decode_all(stream, "utf-16")
        if failure is not None:
            raise FileProblem(f"文件标明是 UTF-16 编码，但第 {failure[0]} 行附近无法解码")
        return "utf-16", lines
    lines, failure = _decode_all(stream, "utf-8-sig")
    if failure is None:
        return "utf-8-sig", lines
    line, non_ascii = failure
    if non_ascii >= 2:
        raise FileProblem(f"文件编码混杂：前 {line - 1} 行是 UTF-8，第 {line} 行起不是（可能粘贴了 GBK "
                          "编码的内容）。请在编辑器或 Excel 中统一另存为 UTF-8 CSV 后再导入")
    lines, failure = _decode_all(stream, "gb18030")
    if failure is None:
        return "gb18030", lines
    raise FileProblem(f"文件既不是 UTF-8 也不是 GBK/GB18030 编码的文本（第 {failure[0]} 行无法解码）；"
                      "如果是 Excel 文件，请直接上传 .xlsx")


def _decode_all(stream, encoding):
    """(lines, None) if the whole stream decodes; else (lines, (line of the failure,
    non-ASCII characters before it)).

    Also refuses lines longer than MAX_LINE_BYTES (a one-line file of millions of cells).
    """
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, non_ascii, run = 1, 0, 0
    while True:
        chunk = stream.read(_CHUNK)
        final = not chunk
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            good = chunk[:max(0, exc.start)].decode(encoding, "ignore")
            return lines, (lines + good.count("\n"), non_ascii + sum(ord(ch) > 127 for ch in good))
        pieces = chunk.split(b"\n")
        if len(pieces) == 1:
            run += len(chunk)
        else:
            run = max(run + len(pieces[0]), max(map(len, pieces[1:-1]), default=0))
            if run <= MAX_LINE_BYTES:
                run = len(pieces[-1])
        if run > MAX_LINE_BYTES:
            raise FileProblem(f"第 {lines} 行附近有一行超过 {MAX_LINE_BYTES >> 20} MB：不像站点名单，"
                              "请检查文件（是否缺少换行）")
        lines += len(pieces) - 1
        if non_ascii < 2:
            non_ascii += sum(1 for ch in text if ord(ch) > 127)
        if final:
            stream.seek(0)
            return lines, None


def iter_csv(stream, encoding: str):
    """Rows (lists of text cells) of a CSV file; comma, tab or semicolon separated."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    try:
        try:
            sample = text.read(8192)
        except UnicodeDecodeError:
            raise FileProblem(f"文件开头无法按 {encoding} 解码") from None
        text.seek(0)
        reader = csv.reader(text, _dialect(sample))
        number = 0
        while True:
            number += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise FileProblem(f"第 {number} 行有一个单元格超过 {MAX_CELL_CHARS:,} 个字符，"
                                      "不像站点信息（是否有未闭合的引号？）") from None
                raise FileProblem(f"第 {number} 行无法按 CSV 读取：{exc}") from None
            except UnicodeDecodeError:
                raise FileProblem(f"第 {number} 行无法按 {encoding} 解码") from None
            if len(row) > MAX_COLUMNS:
                if any(c.strip() for c in row[MAX_COLUMNS:]):
                    raise FileProblem(_too_wide(number, len(row)))
                del row[MAX_COLUMNS:]
            yield [undefuse(c) for c in row]
    finally:
        text.detach()


class _Excel(csv.excel):
    delimiter = ","


def _dialect(sample: str):
    """Excel's CSV dialect with the delimiter the sample uses (comma, tab or semicolon).
    Only the delimiter is sniffed: the sniffer also judges quoting from the sample alone
    (``doublequote`` False when the first 8 KB hold no ``""``), and a row further down
    whose text holds ``""`` then splits wrongly.  Spreadsheets always double quotes."""
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        delimiter = ","
    return type("Sniffed", (_Excel,), {"delimiter": delimiter})


def _too_wide(row, column, letters=None):
    where = f"{letters} 列（第 {column} 列）" if letters else f"第 {column} 列"
    return (f"第 {row} 行的{where}有数据：一次最多读取 {MAX_COLUMNS} 列。"
            "请删除多余的列后再导入")


# --- XLSX ----------------------------------------------------------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _SHEET_DATA = _NS + "row", _NS + "c", _NS + "sheetData"
_COORD = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def iter_xlsx(stream, max_row_number: int = MAX_ROWS + 11):
    """Rows of the first worksheet, read as a stream of XML events.

    The sheet's declared dimension is ignored (it can claim A1:XFD1048576); only
    cells that are present are read, empty ones are dropped as they are parsed, and a
    value right of column MAX_COLUMNS or below row ``max_row_number`` stops reading
    with a FileProblem.  Yields (row number in the sheet, list of cells).
    """
    from openpyxl import load_workbook
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        archive = zipfile.ZipFile(stream)
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileProblem(f"无法读取 XLSX 文件：不是完整的 ZIP 压缩包（{exc}）") from None
    if sizes.get("xl/sharedStrings.xml", 0) > MAX_SHARED_STRINGS:
        raise FileProblem(f"XLSX 的文字表解压后超过 {MAX_SHARED_STRINGS >> 20} MB，无法导入；请另存为 CSV")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
        try:
            book = load_workbook(stream, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on a malformed package
            raise FileProblem(f"无法读取 XLSX 文件：文件结构损坏或不是 Excel 工作簿（{_brief(exc)}）") from None
        try:
            if not book.worksheets:
                raise FileProblem("XLSX 文件中没有工作表")
            sheet = book.worksheets[0]
            path = getattr(sheet, "_worksheet_path", None)
            if path and sizes.get(path.lstrip("/"), 0) > MAX_SHEET_XML:
                raise FileProblem(f"工作表解压后超过 {MAX_SHEET_XML >> 30} GB，无法导入")
            parser = WorkSheetParser(None, book.shared_strings, data_only=True, epoch=book.epoch,
                                     date_formats=book._date_formats,
                                     timedelta_formats=book._timedelta_formats)
            with sheet._get_source() as source:
                try:
                    yield from _sheet_rows(source, parser, max_row_number)
                except FileProblem:
                    raise
                except Exception as exc:  # noqa: BLE001 - a case not foreseen above is still the file's fault
                    raise FileProblem(f"无法读取 XLSX 工作表：文件结构损坏（{_brief(exc)}）。"
                                      "请在 Excel 中打开后另存为 .xlsx 再导入") from None
        finally:
            book.close()


def _sheet_rows(source, parser, max_row_number):
    events = ET.iterparse(source, events=("start", "end"))
    parents, row_number, cells, rows_with_data = [], 0, None, 0
    try:
        for event, element in events:
            tag = element.tag
            if event == "start":
                if tag == _ROW:
                    row_number = _row_number(element.get("r"), row_number)
                    parser.row_counter, parser.col_counter, cells = row_number, 0, {}
                parents.append(element)
                continue
            parents.pop()
            if tag == _CELL and cells is not None:
                column, value = _cell(parser, element, row_number)
                if value is not None and value != "":
                    if column > MAX_COLUMNS:
                        raise FileProblem(_too_wide(row_number, column, _column_letters(column)))
                    cells[column] = value
            elif tag == _ROW:
                if cells:
                    if row_number > max_row_number:
                        raise FileProblem(f"工作表第 {row_number:,} 行有数据：一次最多导入 {MAX_ROWS:,} 行"
                                          f"（含表头最多读到第 {max_row_number:,} 行）")
                    rows_with_data += 1
                    width = max(cells)
                    yield row_number, [cells.get(i) for i in range(1, width + 1)]
                cells = None
            # Drop what has been read (memory stays one cell deep), but keep the parts
            # of a cell until the cell itself is read.
            if parents and (len(parents) <= 2 or parents[-1].tag == _ROW):
                parents[-1].remove(element)
                element.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        raise FileProblem(f"XLSX 工作表的 XML 已损坏（第 {line} 行第 {column} 列：{_brief(exc)}）") from None


_ROW_NUMBER = re.compile(r"^\s*\+?([0-9]{1,7})(?:\.0*)?\s*$")  # an unsignedInt as spreadsheets write it
MAX_SHEET_ROW = 1_048_576  # Excel's last row: a larger number is no row of a real sheet


def _row_number(text, previous):
    """A ``<row r="…">`` as a number: missing means the next row; anything but an integer
    from 1 to Excel's last row (inf, nan, -1, 1e308, abc, 40 digits) is a broken file."""
    if text is None:
        return previous + 1
    match = _ROW_NUMBER.match(text)
    number = int(match[1]) if match else 0
    if not 1 <= number <= MAX_SHEET_ROW:
        raise FileProblem(f"XLSX 工作表的行号“{text[:20]}”无效：应为 1 到 {MAX_SHEET_ROW:,} 的整数。"
                          "文件可能已损坏，请在 Excel 中打开后另存为 .xlsx 再导入")
    return number


def _cell(parser, element, row_number):
    ref = element.get("r")
    if ref is not None:
        match = _COORD.match(ref)
        if not match:
            raise FileProblem(f"XLSX 工作表第 {row_number} 行的单元格地址“{ref[:20]}”无效")
        if not len(element):  # an empty cell (only a style): nothing to read but its place
            parser.col_counter = _column_number(match[1])
            return parser.col_counter, None
        element.set("r", f"{match[1]}{row_number}")  # a row of its own tells the row
    elif not len(element):
        parser.col_counter += 1
        return parser.col_counter, None
    try:
        found = parser.parse_cell(element)
    except (ValueError, IndexError, TypeError, KeyError, OverflowError) as exc:
        where = ref or f"第 {parser.col_counter} 列"
        why = "引用的共享文字不存在" if isinstance(exc, (IndexError, KeyError)) else f"值无效：{_brief(exc)}"
        raise FileProblem(f"XLSX 工作表第 {row_number} 行单元格 {where} 无法读取（{why}）") from None
    return found["column"], plain_value(found["value"])


def plain_value(value):
    """A spreadsheet value as text or a number (dates as ISO text, booleans as TRUE/FALSE)."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return undefuse(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _brief(exc) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


# --- GeoJSON -------------------------------------------------------------------------

def iter_geojson(stream):
    """Features of a GeoJSON FeatureCollection (or one Feature), parsed as a stream.

    Only the ``features`` array is kept, one feature at a time; other top-level
    members are skipped.  Nesting deeper than MAX_JSON_DEPTH and malformed JSON raise
    FileProblem.  Yields (feature number from 1, feature).
    """
    import ijson

    stream.seek(0)
    if stream.read(3) != codecs.BOM_UTF8:
        stream.seek(0)
    depth, number, top, top_key = 0, 0, None, None
    in_features = saw_features = False
    skip_below = 0  # while > 0: inside a top-level member that is not needed
    stack, keys = [], []
    try:
        for event, value in ijson.basic_parse(stream, use_float=True):
            if event in ("start_map", "start_array"):
                depth += 1
                if depth > MAX_JSON_DEPTH:
                    where = f"第 {number + 1} 个要素" if in_features else "文件"
                    raise FileProblem(f"JSON 嵌套过深：{where}超过 {MAX_JSON_DEPTH} 层，不是站点数据")
                if depth == 1:
                    if event == "start_array":
                        raise FileProblem("GeoJSON 应为 FeatureCollection（含 features 数组），不是数组")
                    top = {}
                elif skip_below:
                    pass
                elif depth == 2 and top_key == "features":
                    if event != "start_array":
                        raise FileProblem("GeoJSON 的 features 应为数组")
                    in_features = saw_features = True
                elif depth == 2 and top_key not in _TOP_MEMBERS:
                    skip_below = depth
                else:
                    stack.append({} if event == "start_map" else [])
                    keys.append(None)
            elif event in ("end_map", "end_array"):
                depth -= 1
                if skip_below:
                    if depth < skip_below:
                        skip_below = 0
                elif depth == 0:
                    break
                elif depth == 1 and in_features:
                    in_features = False
                else:
                    done = stack.pop()
                    keys.pop()
                    if stack:
                        _put(stack, keys, done)
                    elif in_features:
                        number += 1
                        if number > MAX_ROWS:
                            raise FileProblem(f"要素超过一次导入的上限 {MAX_ROWS:,} 个")
                        yield number, done
                    else:
                        top[top_key] = done
            elif event == "map_key":
                if depth == 1:
                    top_key = value
                elif stack and not skip_below:
                    keys[-1] = value
            elif skip_below:
                pass
            elif stack:
                _put(stack, keys, value)
            elif in_features:
                number += 1
                yield number, value  # not an object: reported as a bad feature
            elif depth == 1 and (top_key in _TOP_MEMBERS or top_key == "features"):
                top[top_key] = value
    except ijson.JSONError as exc:
        raise FileProblem(f"不是有效的 JSON：{_json_message(exc)}") from None
    except UnicodeDecodeError:
        raise FileProblem("GeoJSON 文件必须是 UTF-8 编码") from None
    if top is None:
        raise FileProblem("文件是空的，或不是 GeoJSON")
    if saw_features:
        return
    if "features" in top:
        raise FileProblem("GeoJSON 的 features 应为数组")
    if top.get("type") == "Feature":
        yield 1, top
        return
    raise FileProblem("GeoJSON 应为 FeatureCollection（含 features 数组）")


_TOP_MEMBERS = {"type", "id", "geometry", "properties"}


def _put(stack, keys, value):
    container = stack[-1]
    if isinstance(container, list):
        container.append(value)
    else:
        container[keys[-1]] = value


def _json_message(exc) -> str:
    text = str(exc)
    if "invalid bytes in UTF8" in text or "invalid UTF-8" in text:
        return "含有非 UTF-8 字节（GeoJSON 必须是 UTF-8 编码）"
    if "premature EOF" in text or "Incomplete" in type(exc).__name__ and not text:
        return "文件不完整（提前结束）"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return unicodedata.normalize("NFC", first)[:120]
