"""CSV and XLSX exports of any table of rows, streamed.

Traps:
- Spreadsheet formula injection: a cell that starts with = + - @ (or a tab / CR, which
  Excel strips before looking) runs as a formula when opened. Such strings get a leading
  apostrophe; numbers and dates are written as values and are not touched.
- Memory: rows come from an iterator (a server-side cursor upstream) and leave in chunks.
  CSV is produced chunk by chunk; XLSX goes through openpyxl's write-only workbook, which
  keeps one row in memory, into a temporary file that is streamed and then removed.
- Excel opens UTF-8 CSV as GBK unless the file starts with a BOM: every CSV gets one.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from urllib.parse import quote

from flask import Response, stream_with_context

from app.core.timeutil import SHANGHAI

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 500
FILE_CHUNK_BYTES = 64 * 1024
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value):
    """A cell value safe to open in a spreadsheet (see the module's traps)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    return neutralise(value)


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV file (UTF-8 with BOM), a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(v) for v in row])
        if n % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(path: str, headers: Sequence[str], rows: Iterable[Sequence],
               sheet_title: str = "导出") -> int:
    """Write an XLSX file with one sheet; returns the number of data rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31])
    sheet.append([neutralise(h) for h in headers])
    count = 0
    for row in rows:
        sheet.append([_xlsx_cell(v) for v in row])
        count += 1
    workbook.save(path)
    return count


def _xlsx_cell(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        # openpyxl refuses aware datetimes; people read Beijing time.
        return value.astimezone(SHANGHAI).replace(tzinfo=None)
    if isinstance(value, bool):
        return "是" if value else "否"
    return neutralise(value)


def xlsx_chunks(headers: Sequence[str], rows: Iterable[Sequence],
                sheet_title: str = "导出") -> Iterator[bytes]:
    """The XLSX file, built in a temporary file and streamed from it."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="export-")
    os.close(handle)
    try:
        write_xlsx(path, headers, rows, sheet_title)
        with open(path, "rb") as f:
            while chunk := f.read(FILE_CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)


def download(fmt: str, filename: str, headers: Sequence[str], rows: Iterable[Sequence],
             sheet_title: str = "导出") -> Response:
    """A streamed download of `rows` as CSV or XLSX; `filename` without extension (Chinese
    is fine: it is sent RFC 5987-encoded, with an ASCII fallback)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "csv":
        body, mime = csv_chunks(headers, rows), "text/csv; charset=utf-8"
    else:
        body, mime = xlsx_chunks(headers, rows, sheet_title), XLSX_MIME
    name = f"{filename}.{fmt}"
    disposition = (f"attachment; filename=\"export.{fmt}\"; "
                   f"filename*=UTF-8''{quote(name)}")
    return Response(stream_with_context(body), mimetype=mime,
                    headers={"Content-Disposition": disposition,
                             "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})
