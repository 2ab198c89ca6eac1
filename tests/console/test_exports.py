"""Exports of the filtered interview list: the same rows as the list (filters and scope),
Chinese headers, formula cells neutralised, streamed, audited; CSV and XLSX read back."""
from __future__ import annotations

import csv
import io
import types
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.models import AuditEntry, CancellationState, InterviewStatus, Role
from tests import factories
from tests.factories import console_login, hr_user

HEADERS = ["面试编号", "候选人", "岗位", "部门", "面试时间", "状态", "取消方", "取消原因",
           "取消说明", "取消时间"]


def read_back(body: bytes, fmt: str) -> list[list[str]]:
    if fmt == "csv":
        assert body.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0]) if rows else 0        # read-only mode drops trailing empty cells
    return [row + [""] * (width - len(row)) for row in rows]


@pytest.fixture
def interviews(app):
    """Three 技术部 interviews (one cancelled with a formula-like note, one whose candidate
    name looks like a formula) and one 销售部 interview."""
    sales = factories.position(app, "销售代表", department="销售部")
    tech = factories.position(app, "Java工程师", department="技术部")
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)        # 10:00 in Beijing
    a = factories.interview(app, "AI-2026-03-05-001", "张三", position_id=tech,
                            status=InterviewStatus.CANCELLED, scheduled_at=at)
    reason = factories.cancel_reason(app, label="时间冲突")
    factories.cancellation(app, a.id, reason_id=reason, note="=SUM(A1:A9)",
                           actor_type="candidate", state=CancellationState.EFFECTIVE,
                           requested_at=at, decided_at=at)
    factories.interview(app, "AI-2026-03-05-002", "@李四", position_id=tech, scheduled_at=at)
    factories.interview(app, "AI-2026-03-06-003", "王五", position_id=tech,
                        status=InterviewStatus.CONFIRMED,
                        scheduled_at=datetime(2026, 3, 6, 2, 0, tzinfo=UTC))
    factories.interview(app, "AI-2026-03-05-004", "赵六", position_id=sales, scheduled_at=at)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_list_export_round_trips(app, client, interviews, fmt):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    response = client.get(f"/console/interviews/export.{fmt}",
                          query_string={"department": "技术部", "sort": "asc"})
    assert response.status_code == 200
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_back(response.get_data(), fmt)
    assert rows[0] == HEADERS
    assert [r[0] for r in rows[1:]] == ["AI-2026-03-05-001", "AI-2026-03-05-002",
                                       "AI-2026-03-06-003"]
    first = dict(zip(HEADERS, rows[1], strict=True))
    assert first["候选人"] == "张三" and first["岗位"] == "Java工程师"
    assert first["状态"] == "已取消" and first["取消方"] == "候选人取消"
    assert first["取消原因"] == "时间冲突"
    assert first["取消说明"] == "'=SUM(A1:A9)"                 # neutralised
    assert first["面试时间"].startswith("2026-03-05 10:00")    # Beijing time
    second = dict(zip(HEADERS, rows[2], strict=True))
    assert second["候选人"] == "'@李四" and second["取消方"] == ""
    with app.app_context():
        entry = db.session.scalars(db.select(AuditEntry).where(
            AuditEntry.action == "report.exported")).one()
    assert entry.data == {"report": "interviews", "format": fmt,
                          "filters": {"department": "技术部", "sort": "asc"}}


def test_the_export_keeps_the_list_filters(app, client, interviews):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    for args, numbers in [
        ({"status": "cancelled"}, {"AI-2026-03-05-001"}),
        ({"date_from": "2026-03-06", "date_to": "2026-03-06"}, {"AI-2026-03-06-003"}),
        ({"q": "赵"}, {"AI-2026-03-05-004"}),
        ({"initiator": "candidate"}, {"AI-2026-03-05-001"}),
    ]:
        rows = read_back(client.get("/console/interviews/export.csv", query_string=args)
                         .get_data(), "csv")
        assert {r[0] for r in rows[1:]} == numbers, args


def test_a_manager_exports_only_their_departments(app, client, interviews):
    hr_user(app, "sales", role=Role.RECRUITING_MANAGER, departments=("销售部",))
    console_login(client, "sales")
    rows = read_back(client.get("/console/interviews/export.xlsx").get_data(), "xlsx")
    assert [r[0] for r in rows[1:]] == ["AI-2026-03-05-004"]
    # The 技术部 filter does not widen the scope.
    rows = read_back(client.get("/console/interviews/export.csv",
                                query_string={"department": "技术部"}).get_data(), "csv")
    assert rows == [HEADERS]


def test_the_list_page_links_its_exports_with_its_filters(app, client, interviews):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    html = client.get("/console/interviews", query_string={"status": "cancelled"}) \
        .get_data(as_text=True)
    assert "/console/interviews/export.csv?status=cancelled" in html
    assert "/console/interviews/export.xlsx?status=cancelled" in html


def test_interviewers_have_no_export_buttons(app, client, interviews):
    hr_user(app, "iv", role=Role.INTERVIEWER)
    console_login(client, "iv")
    html = client.get("/console/interviews").get_data(as_text=True)
    assert "export.csv" not in html
    assert client.get("/console/interviews/export.xlsx").status_code == 403


def test_the_export_is_a_generator_reading_a_cursor_in_chunks(app, interviews):
    """The rows come from iter_interviews (yield_per), and the response body is the
    generator, not a list: nothing is fetched before the client reads."""
    from app.queries.interviews.console import Filters, iter_interviews
    from app.services.users.actor import Actor

    with app.app_context():
        rows = iter_interviews(Actor.system("test"), Filters(), chunk=2)
        assert isinstance(rows, types.GeneratorType)
        assert len(list(rows)) == 4
    user = hr_user(app, "boss", role=Role.ADMIN)
    assert user
    client = app.test_client()
    console_login(client, "boss")
    response = client.get("/console/interviews/export.csv")
    assert response.is_streamed
    assert not isinstance(response.response, list | tuple | bytes)
    chunks = list(response.response)
    assert len(chunks) >= 2          # the BOM + header chunk, then the rows


def test_every_reason_category_reads_as_the_settings_page_names_it(app, client):
    """The system's own reason (超时未确认) is of category "system": the report's 按原因类别
    table names it 系统规则, as the settings page does, never the code."""
    tech = factories.position(app, "Java工程师", department="技术部")
    at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    iv = factories.interview(app, "AI-2026-03-05-009", "孙七", position_id=tech,
                             status=InterviewStatus.CANCELLED, scheduled_at=at)
    reason = factories.cancel_reason(app, "unconfirmed_timeout", label="超时未确认",
                                     category="system")
    factories.cancellation(app, iv.id, reason_id=reason, actor_type="system",
                           state=CancellationState.EFFECTIVE, requested_at=at, decided_at=at)
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    export = client.get("/console/reports/cancellations/export/categories.csv",
                        query_string={"date_from": "2026-03-01", "date_to": "2026-03-31"})
    assert export.status_code == 200, export.get_data(as_text=True)[:300]
    rows = read_back(export.get_data(), "csv")
    assert ["系统规则", "1"] == rows[1][:2], rows
