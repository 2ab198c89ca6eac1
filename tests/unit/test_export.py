"""app.services.reports.export without a database: formula neutralisation, values kept
as values, and 100,000 rows streamed without holding them (a generator in, chunks out)."""
from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from app.services.reports import export


@pytest.mark.parametrize("value", ["=1+2", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_neutralised(value):
    assert export.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["张三", "", "a=b", -2, 3.5, None])
def test_other_values_are_untouched(value):
    assert export.neutralise(value) == value


def test_csv_and_xlsx_keep_numbers_and_times(tmp_path):
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    rows = [["=cmd", -5, 1.5, at, date(2026, 3, 5), True, None]]
    body = b"".join(export.csv_chunks(["名称", "数", "比", "时间", "日期", "是否", "空"], rows))
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert parsed == [["名称", "数", "比", "时间", "日期", "是否", "空"],
                      ["'=cmd", "-5", "1.5", "2026-03-05 10:00", "2026-03-05", "是", ""]]
    path = tmp_path / "t.xlsx"
    export.write_xlsx(str(path), ["名称", "数", "比", "时间"], [row[:4] for row in rows])
    sheet = load_workbook(path).active
    values = [c.value for c in sheet[2]]
    assert values[0] == "'=cmd" and values[1] == -5 and values[2] == 1.5
    assert values[3] == datetime(2026, 3, 5, 10, 0)          # Beijing time, as a date cell
    assert sheet["A2"].data_type == "s"                        # a string, never a formula


def _rows(n: int, seen: list):
    for i in range(n):
        seen[0] = i + 1
        yield [f"AI-2026-03-{i:06d}", f"候选人{i}", "Java工程师", "技术部",
               datetime(2026, 3, 5, 2, 0, tzinfo=UTC), "已取消", "候选人取消", "时间冲突",
               "=备注" if i % 10 == 0 else None, None]


def test_100000_rows_stream_as_csv_chunks_without_being_held():
    seen = [0]
    chunks = export.csv_chunks(["面试编号"] * 10, _rows(100_000, seen))
    first = next(chunks)
    assert seen[0] == 0                      # the header leaves before any row is read
    next(chunks)
    assert seen[0] == export.CSV_CHUNK_ROWS  # then a chunk at a time
    tracemalloc.start()
    total, lines = 0, 0
    for chunk in chunks:
        total += len(chunk)
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert first.startswith("\ufeff".encode())
    assert seen[0] == 100_000 and lines == 100_000 - export.CSV_CHUNK_ROWS
    assert total > 8_000_000                 # about 9 MB of CSV went through...
    assert peak < 2_000_000                  # ...never more than ~2 MB held at once


def test_the_download_response_is_a_generator(app):
    with app.test_request_context():
        response = export.download("csv", "面试列表", ["a"], iter([[1], [2]]))
    assert response.is_streamed
    assert "filename*=UTF-8''%E9%9D%A2%E8%AF%95%E5%88%97%E8%A1%A8.csv" in \
        response.headers["Content-Disposition"]
    with pytest.raises(ValueError):
        export.download("pdf", "x", ["a"], [])


def test_tokens_never_start_like_a_formula(monkeypatch):
    """Invitation tokens go into exported cells: one starting with "-" would be exported
    neutralised (a leading "'"), and the link HR copies from it would not work."""
    import secrets

    from app.core import crypto

    drawn = iter(["-starts-like-a-formula", "AbC-fine"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(drawn))
    assert crypto.new_token() == "AbC-fine"
    monkeypatch.undo()
    assert not any(crypto.new_token(6).startswith("-") for _ in range(2000))
