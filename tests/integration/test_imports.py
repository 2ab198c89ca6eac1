"""导入 in the console: the dry run lists every bad row and writes nothing but the stored
file; 确认导入 queues exactly that file and the worker commits it (the chunks and their
crash recovery: test_imports_worker.py); importing it again adds nothing; GBK CSV and
XLSX; department scope; size and row limits; invitations exported."""
import csv
import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.core import crypto
from app.extensions import db
from app.jobs.worker import drain
from app.models import (
    AuditEntry,
    Candidate,
    ImportJob,
    Interview,
    InterviewSession,
    InviteToken,
    Position,
    Role,
)
from app.services.integration import imports
from tests import factories

HEADER = ["岗位编号", "岗位名称", "部门", "级别", "场次编号", "开始时间", "结束时间", "容量",
          "候选人编号", "姓名", "手机号", "邮箱", "面试编号(外部)", "面试时间"]
GOOD = [
    ["P-1", "Java后端开发工程师", "技术部", "P5", "S-1", "2027-03-15 14:00",
     "2027-03-15 16:00", "8", "C-1", "张三", "13800138000", "zs@example.com", "I-1",
     "2027-03-15 14:00"],
    ["P-1", "Java后端开发工程师", "技术部", "P5", "S-1", "2027-03-15 14:00",
     "2027-03-15 16:00", "8", "C-2", "李四", "13900139000", "", "I-2", "2027-03-15 14:30"],
]
MODELS = (Position, InterviewSession, Candidate, Interview, InviteToken)


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def counts(app) -> dict:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                for m in MODELS}


def login_as(app, username="boss", role=Role.ADMIN, departments=()):
    factories.hr_user(app, username, role=role, departments=departments)
    client = app.test_client()
    assert factories.console_login(client, username).status_code == 302
    return client


def upload(client, content: bytes, filename="面试.csv"):
    token = factories.csrf_token(client, "/console/imports")
    return client.post("/console/imports", data={
        "csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data")


def dry_run(client, content: bytes, filename="面试.csv") -> str:
    response = upload(client, content, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/console/imports/(imp_[\w-]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def confirm(client, public_id: str, *, run_worker: bool = True):
    """确认导入, then (unless told not to) the worker's turn that commits the file."""
    token = factories.csrf_token(client, f"/console/imports/{public_id}")
    response = client.post(f"/console/imports/{public_id}/commit", data={"csrf_token": token})
    if run_worker:
        drain(client.application)
    return response


def job(app, public_id) -> ImportJob:
    return factories.detached(app, ImportJob, _job_id(app, public_id))


def _job_id(app, public_id):
    with app.app_context():
        return db.session.scalar(select(ImportJob.id).where(ImportJob.public_id == public_id))


EMPTY = {"Position": 0, "InterviewSession": 0, "Candidate": 0, "Interview": 0, "InviteToken": 0}


def test_dry_run_lists_every_bad_row_and_commits_nothing(app):
    client = login_as(app)
    rows = [
        GOOD[0],
        # row 3: a bad phone and a bad time in the same row: both reported
        ["P-1", "Java后端开发工程师", "技术部", "P5", "S-1", "2027-03-15 14:00",
         "2027-03-15 16:00", "8", "C-3", "王五", "1380013", "", "I-3", "明天"],
        # row 4: no name; the interview refers to a candidate that failed: no noise
        ["P-1", "", "", "", "", "", "", "", "C-4", "", "13700137000", "", "I-4",
         "2027-03-15 15:00"],
        # row 5: a position nobody imported
        ["P-9", "", "", "", "", "", "", "", "C-1", "", "", "", "I-5", "2027-03-15 15:00"],
        # row 6: end before start, capacity zero
        ["P-1", "Java后端开发工程师", "技术部", "P5", "S-2", "2027-03-16 14:00",
         "2027-03-16 13:00", "0", "", "", "", "", "", ""],
        # row 7: ids only: nothing it would write
        ["P-1", "", "", "", "S-1", "", "", "", "C-1", "", "", "", "", ""],
    ]
    public_id = dry_run(client, csv_bytes(rows))
    stored = job(app, public_id)
    assert stored.status == "invalid" and stored.total_rows == 6
    assert {(e["row"], e["column"], e["message"]) for e in stored.errors} == {
        (3, "手机号", "手机号格式不正确，请填写11位中国大陆手机号"),
        (3, "面试时间", "面试时间格式不正确，请使用如 2026-12-03 14:00 的北京时间"
                        "或带时区的 ISO 8601"),
        (4, "姓名", "请填写姓名"),
        (5, "岗位编号", "未找到该岗位编号，请先导入岗位"),
        (6, "结束时间", "结束时间必须晚于开始时间"),
        (6, "容量", "容量必须在1到10000之间"),
        (7, "", imports.NOTHING_TO_IMPORT),
    }
    with app.app_context():
        assert imports.stored_content(stored) == csv_bytes(rows)  # kept for 确认导入
    assert b"13800138000" not in stored.content  # encrypted at rest (phone numbers)
    assert counts(app) == EMPTY
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert "确认导入" not in page and "请填写姓名" in page and "有错误" in page
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action != "hr_user.signed_in")).all()
    assert actions == ["import.validated"]  # the upserts' entries were rolled back too
    assert confirm(client, public_id).status_code == 302
    assert counts(app) == EMPTY


def test_commit_then_reimport_creates_nothing_new(app):
    client = login_as(app)
    content = csv_bytes(GOOD)
    public_id = dry_run(client, content)
    assert job(app, public_id).status == "validated"
    assert counts(app) == EMPTY
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert "确认导入" in page
    assert confirm(client, public_id).status_code == 302
    assert counts(app) == {"Position": 1, "InterviewSession": 1, "Candidate": 2,
                           "Interview": 2, "InviteToken": 2}
    done = job(app, public_id)
    assert done.status == "committed"
    assert done.summary["counts"]["candidate"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert done.summary["counts"]["position"] == {"created": 1, "updated": 0, "unchanged": 0}
    with app.app_context():
        session = db.session.scalars(select(InterviewSession)).one()
        assert (session.booked, session.capacity) == (2, 8)
        numbers = db.session.scalars(select(Interview.number).order_by(Interview.id)).all()
        assert numbers == ["AI-2027-03-15-001", "AI-2027-03-15-002"]
        first = db.session.scalars(select(Interview).order_by(Interview.id)).first()
        assert first.scheduled_at == datetime(2027, 3, 15, 6, 0, tzinfo=UTC)
        token_hashes = set(db.session.scalars(select(InviteToken.token_hash)))
        assert "import.committed" in db.session.scalars(select(AuditEntry.action)).all()
    # The result page shows each new candidate's invitation, and the CSV has them.
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    scenes = re.findall(r"<code data-scene>([^<]+)</code>", page)
    assert len(scenes) == 2 and {crypto.token_hash(s) for s in scenes} == token_hashes
    export = client.get(f"/console/imports/{public_id}/invitations.csv")
    assert export.status_code == 200
    table = list(csv.reader(io.StringIO(export.get_data().decode("utf-8-sig"))))
    assert table[0][:3] == ["行号", "候选人编号", "姓名"]
    assert sorted(r[4] for r in table[1:]) == sorted(scenes)
    assert {r[3] for r in table[1:]} == {f"pages/bind/index?invite_token={s}" for s in scenes}
    with app.app_context():
        exported = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "report.exported")).one()
        assert exported.data["report"] == "import_invitations"
    xlsx = client.get(f"/console/imports/{public_id}/invitations.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).worksheets[0]
    assert sorted(r[4] for r in list(sheet.iter_rows(values_only=True))[1:]) == sorted(scenes)
    # Another admin may open the job, but its invitations are for the importer only.
    other = login_as(app, "boss2")
    assert "data-scene" not in other.get(f"/console/imports/{public_id}").get_data(as_text=True)
    # A second 确认导入 of the same job does nothing; the same file again adds nothing.
    confirm(client, public_id)
    again = dry_run(client, content)
    assert job(app, again).summary["counts"]["interview"] == {"created": 0, "updated": 0,
                                                              "unchanged": 2}
    assert "同一文件已于" in client.get(f"/console/imports/{again}").get_data(as_text=True)
    confirm(client, again)
    assert job(app, again).status == "committed"
    assert counts(app) == {"Position": 1, "InterviewSession": 1, "Candidate": 2,
                           "Interview": 2, "InviteToken": 2}
    # A changed row updates in place.
    changed = [GOOD[0], [*GOOD[1][:9], "李四四", *GOOD[1][10:]]]
    third = dry_run(client, csv_bytes(changed))
    assert job(app, third).summary["counts"]["candidate"] == {"created": 0, "updated": 1,
                                                              "unchanged": 1}


def test_gbk_csv_is_read(app):
    client = login_as(app)
    public_id = dry_run(client, csv_bytes(GOOD, encoding="gbk"), "面试-gbk.csv")
    assert job(app, public_id).status == "validated", job(app, public_id).errors
    confirm(client, public_id)
    with app.app_context():
        names = db.session.scalars(select(Candidate.name).order_by(Candidate.id)).all()
        assert names == ["张三", "李四"]
        assert db.session.scalar(select(Position.department)) == "技术部"


def test_xlsx_with_typed_cells_and_english_headers(app):
    client = login_as(app)
    header = ["position_external_id", "title", "department", "level", "candidate_external_id",
              "name", "phone", "interview_external_id", "scheduled_at", "duration_minutes"]
    rows = [["P-1", "AI算法工程师", "技术部", "P6", "C-1", "张三", 13800138000, "I-1",
             datetime(2027, 3, 15, 10, 0), 45]]
    public_id = dry_run(client, xlsx_bytes(rows, header), "面试.xlsx")
    assert job(app, public_id).status == "validated", job(app, public_id).errors
    confirm(client, public_id)
    with app.app_context():
        interview = db.session.scalars(select(Interview)).one()
        assert interview.scheduled_at == datetime(2027, 3, 15, 2, 0, tzinfo=UTC)  # Beijing
        assert interview.duration_minutes == 45 and interview.session_id is None
        assert interview.candidate.phone == "13800138000"


def test_scope_a_manager_imports_only_their_departments(app):
    client = login_as(app, "sales", Role.RECRUITING_MANAGER, ("销售部",))
    sales_row = ["P-2", "销售代表", "销售部", "S3", "", "", "", "", "C-9", "赵六",
                 "13600136000", "", "I-9", "2027-03-15 10:00"]
    public_id = dry_run(client, csv_bytes([GOOD[0], sales_row]))
    errors = job(app, public_id).errors
    assert {(e["row"], e["column"], e["code"]) for e in errors} == {
        (2, "部门", "department_out_of_scope")}
    specialist = login_as(app, "sp", Role.RECRUITING_SPECIALIST, ("技术部",))
    assert specialist.get("/console/imports").status_code == 403
    other = login_as(app, "tech", Role.RECRUITING_MANAGER, ("技术部",))
    assert other.get(f"/console/imports/{public_id}").status_code == 404  # not their job
    assert counts(app) == EMPTY


@pytest.mark.parametrize("content, filename, message", [
    (b"", "a.csv", "文件是空的"),
    (b"\xd0\xcf\x11\xe0rest", "a.xls", "不支持旧版 Excel"),
    ("名字,年龄\n张三,3\n".encode(), "a.csv", "第1行应为表头"),
    (csv_bytes([]), "a.csv", "文件中没有数据行"),
    (b"PK\x03\x04broken", "a.xlsx", "无法读取该 XLSX 文件"),
])
def test_unreadable_files_are_refused_in_chinese(app, content, filename, message):
    client = login_as(app)
    response = upload(client, content, filename)
    assert response.status_code == 302
    page = client.get("/console/imports").get_data(as_text=True)
    assert message in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_size_and_row_limits(app, monkeypatch):
    client = login_as(app)
    monkeypatch.setattr(imports, "MAX_ROWS", 1)
    upload(client, csv_bytes(GOOD))
    assert "一次最多导入 1 行" in client.get("/console/imports").get_data(as_text=True)
    monkeypatch.setattr(imports, "MAX_XLSX_UNPACKED", 1000)
    upload(client, xlsx_bytes(GOOD[:1]), "a.xlsx")
    assert "XLSX 文件内容过大" in client.get("/console/imports").get_data(as_text=True)
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    upload(client, csv_bytes(GOOD[:1]))
    assert "文件不能超过" in client.get("/console/imports").get_data(as_text=True)
    assert counts(app) == EMPTY


def test_a_row_that_fails_at_commit_writes_nothing(app):
    client = login_as(app)
    rows = [[*GOOD[0], "", ""], [*GOOD[1], "", "AI-CLAIMED-1"]]
    public_id = dry_run(client, csv_bytes(rows, [*HEADER, "时长(分钟)", "面试编号"]))
    assert job(app, public_id).status == "validated", job(app, public_id).errors
    factories.interview(app, number="AI-CLAIMED-1")  # taken between dry run and commit
    before = counts(app)
    confirm(client, public_id)
    failed = job(app, public_id)
    assert failed.status == "failed"
    assert [(e["row"], e["column"], e["code"]) for e in failed.errors] == [
        (3, "面试编号", "number_taken")]
    assert counts(app) == before  # not even row 2's position, session or candidate


def test_templates_download_with_every_column(app):
    client = login_as(app)
    page = client.get("/console/imports").get_data(as_text=True)
    assert "下载 XLSX 模板" in page and "岗位编号" in page
    response = client.get("/console/imports/template.csv")
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert table[0] == imports.HEADERS
    assert len(table[1]) == len(imports.HEADERS)
    xlsx = client.get("/console/imports/template.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).worksheets[0]
    assert list(next(sheet.iter_rows(values_only=True))) == imports.HEADERS
    # The template itself imports cleanly.
    public_id = dry_run(client, response.get_data())
    assert job(app, public_id).status == "validated", job(app, public_id).errors
