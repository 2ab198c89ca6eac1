"""File imports (CSV or XLSX): a dry run that checks every row and commits nothing but the
stored file (in the request for a short file, in the worker for a long one), then
确认导入, which queues exactly those stored bytes for the worker; it commits them in
chunks through the upserts (app.services.integration.upsert), see
app.services.integration.import_runner.

The file: one row per interview, the first row is the header (COLUMNS: Chinese names,
English aliases; order free, unknown columns ignored). A row's position part is written
when it has 岗位名称, its session part when it has 开始时间, its candidate part when it
has 姓名 or 手机号, its interview part when it has 面试编号(外部) or 面试时间; otherwise
岗位编号 / 场次编号 / 候选人编号 only refer to rows that exist (or come earlier in the
file). CSV: UTF-8 with or without BOM, or GBK (GB18030), detected; XLSX: the first sheet.
Rows are numbered as the spreadsheet shows them (the header is row 1).

Traps:
- The dry run really runs every upsert, in a transaction that is rolled back, so it finds
  what the commit would (unknown references, scope, full sessions, numbers taken); the
  upserts check before they write, so a bad row leaves nothing behind for later rows.
- Importing the same file again finds every row by its external id: nothing new.
- Invitation tokens are shown after the commit (and exported): the job keeps them
  encrypted (like phone numbers), readable only by the user who imported the file, until
  they expire. The stored file holds phone numbers: it is kept encrypted too.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from app.core import crypto
from app.core.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from app.core.timeutil import iso, utcnow
from app.extensions import db
from app.models import ImportJob
from app.services import audit
from app.services.candidates.invitations import Invitation
from app.services.integration.upsert import CLEANERS, KINDS, UPSERTS, WRITE_PERMISSION
from app.services.notifications import outbox
from app.services.users.actor import Actor

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
# Files up to this many rows are checked in the request (about a second); longer ones by
# the worker, like every commit (2,000 rows took 20-40 s under load: past a request's
# timeout). A check holds its job this long (one transaction, rolled back: no renewal).
INLINE_CHECK_ROWS = 200
CHECK_LEASE_SECONDS = 600
MAX_ERRORS_SHOWN = 1000
MAX_XLSX_UNPACKED = 100 * 1024 * 1024

# header, (kind, field)..., English aliases. A column may feed several kinds (岗位编号 is
# the position's id and the session's and interview's reference to it).
COLUMNS = [
    ("岗位编号", (("position", "external_id"), ("session", "position_external_id"),
                  ("interview", "position_external_id")), ("position_external_id",
                                                          "position_id")),
    ("岗位名称", (("position", "title"),), ("position_title", "title")),
    ("部门", (("position", "department"),), ("department",)),
    ("级别", (("position", "level"),), ("level",)),
    ("高级岗位", (("position", "is_senior"),), ("is_senior",)),
    ("取消需审核", (("position", "cancel_requires_review"),), ("cancel_requires_review",)),
    ("场次编号", (("session", "external_id"), ("interview", "session_external_id")),
     ("session_external_id", "session_id")),
    ("开始时间", (("session", "starts_at"),), ("starts_at", "session_starts_at")),
    ("结束时间", (("session", "ends_at"),), ("ends_at", "session_ends_at")),
    ("容量", (("session", "capacity"),), ("capacity",)),
    ("候选人编号", (("candidate", "external_id"), ("interview", "candidate_external_id")),
     ("candidate_external_id", "candidate_id")),
    ("姓名", (("candidate", "name"),), ("name", "candidate_name")),
    ("手机号", (("candidate", "phone"),), ("phone", "mobile")),
    ("邮箱", (("candidate", "email"),), ("email",)),
    ("面试编号(外部)", (("interview", "external_id"),), ("interview_external_id",
                                                        "external_id")),
    ("面试时间", (("interview", "scheduled_at"),), ("scheduled_at",)),
    ("时长(分钟)", (("interview", "duration_minutes"),), ("duration_minutes",)),
    ("面试官账号", (("interview", "interviewer_username"),), ("interviewer_username",)),
    ("面试链接", (("interview", "join_url"),), ("join_url",)),
    ("确认截止时间", (("interview", "confirm_by"),), ("confirm_by",)),
    ("面试编号", (("interview", "number"),), ("number", "interview_number")),
]
HEADERS = [c[0] for c in COLUMNS]
# Which header a field's error names.
FIELD_COLUMN = {target: header for header, targets, _ in COLUMNS for target in targets}
# The column whose presence makes a row write that kind (else it only refers to it).
WRITES_WHEN = {"position": ("岗位名称",), "session": ("开始时间",),
               "candidate": ("姓名", "手机号"), "interview": ("面试编号(外部)", "面试时间")}
DEPENDS = {"position": (), "session": ("position",), "candidate": (),
           "interview": ("position", "session", "candidate")}
TEMPLATE_EXAMPLE = [
    "P-JAVA-01", "Java后端开发工程师", "技术部", "P5", "否", "否", "S-20270315-PM",
    "2027-03-15 14:00", "2027-03-15 16:00", "8", "C-10001", "张三", "13800138000",
    "zhangsan@example.com", "AI-PLATFORM-0001", "2027-03-15 14:30", "30", "", "", "", ""]


def _key(text: str) -> str:
    text = str(text or "").strip().lower().replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text)


ALIASES = {_key(alias): header for header, _, aliases in COLUMNS
           for alias in (header, *aliases)}


class ImportRefused(ValidationFailed):
    code = "import_invalid_file"
    message = "无法读取该文件"


class ImportNotFound(NotFound):
    code = "import_not_found"
    message = "未找到该导入记录"


@dataclass
class RunOutcome:
    errors: list[dict] = field(default_factory=list)
    created: dict[str, set] = field(default_factory=lambda: {k: set() for k in KINDS})
    updated: dict[str, set] = field(default_factory=lambda: {k: set() for k in KINDS})
    seen: dict[str, set] = field(default_factory=lambda: {k: set() for k in KINDS})
    invitations: list[dict] = field(default_factory=list)

    def counts(self) -> dict:
        return {kind: {"created": len(self.created[kind]),
                       "updated": len(self.updated[kind] - self.created[kind]),
                       "unchanged": len(self.seen[kind] - self.created[kind]
                                        - self.updated[kind])}
                for kind in KINDS}


# --- reading the file -----------------------------------------------------------------------

def read_rows(filename: str, content: bytes) -> list[tuple[int, dict]]:
    """(row number, {header: value}) of each non-empty data row; ImportRefused for a file
    that cannot be read, is too big or too long, or lacks the columns."""
    if not content:
        raise ImportRefused("文件是空的", code="import_empty")
    if len(content) > MAX_BYTES:
        raise ImportRefused(f"文件不能超过 {MAX_BYTES // (1024 * 1024)} MB",
                            code="import_too_large")
    if content[:4] == b"\xd0\xcf\x11\xe0":
        raise ImportRefused("不支持旧版 Excel（.xls），请另存为 .xlsx 或 CSV 后上传",
                            code="import_xls_unsupported")
    if content[:4] == b"PK\x03\x04":
        table = _xlsx_rows(content)
    else:
        table = _csv_rows(content)
    header = next(table, None)
    if header is None:
        raise ImportRefused("文件没有内容", code="import_empty")
    columns = [ALIASES.get(_key(h)) for h in header]
    present = {c for c in columns if c}
    if not present:
        raise ImportRefused("第1行应为表头（如 岗位编号、姓名、手机号、面试时间），"
                            "请下载模板对照", code="import_no_header")
    rows = []
    for number, values in enumerate(table, start=2):
        if len(rows) >= MAX_ROWS:
            raise ImportRefused(f"一次最多导入 {MAX_ROWS} 行，请拆分文件",
                                code="import_too_many_rows")
        row = {}
        for column, value in zip(columns, values, strict=False):
            if column and value is not None and not (isinstance(value, str)
                                                     and not value.strip()):
                row[column] = value.strip() if isinstance(value, str) else value
        if row:
            rows.append((number, row))
    if not rows:
        raise ImportRefused("文件中没有数据行", code="import_empty")
    return rows


def _csv_rows(content: bytes):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything
        raise ImportRefused("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV",
                            code="import_bad_encoding")
    if "\x00" in text:
        raise ImportRefused("无法读取该文件，请上传 CSV 或 XLSX", code="import_unreadable")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error:
        raise ImportRefused("CSV 格式有误，请检查引号与分隔符", code="import_bad_csv") from None


def _xlsx_rows(content: bytes):
    from openpyxl import load_workbook

    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        unpacked = 0  # load_workbook below says it cannot read the file
    if unpacked > MAX_XLSX_UNPACKED:  # a small zip that inflates to gigabytes
        raise ImportRefused("XLSX 文件内容过大，请删除多余的工作表或空白行列后再上传",
                            code="import_too_large")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportRefused("无法读取该 XLSX 文件，请用 Excel 或 WPS 另存后再上传",
                            code="import_bad_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


# --- running the rows -----------------------------------------------------------------------

def _parts(row: dict) -> dict[str, dict]:
    parts: dict[str, dict] = {kind: {} for kind in KINDS}
    for header, targets, _ in COLUMNS:
        if header in row:
            for kind, name in targets:
                parts[kind][name] = row[header]
    return {kind: data for kind, data in parts.items()
            if any(h in row for h in WRITES_WHEN[kind])}


NOTHING_TO_IMPORT = ("此行没有可导入的内容：新增或更新需填写 岗位名称、开始时间、姓名或手机号、"
                     "面试编号(外部)或面试时间 之一")


def _row_errors(number: int, kind: str, exc: AppError) -> list[dict]:
    items = exc.details.get("errors") or [{"field": exc.details.get("field"),
                                           "code": exc.code, "message": exc.message}]
    return [{"row": number, "column": FIELD_COLUMN.get((kind, item.get("field")), ""),
             "code": item["code"], "message": item["message"]} for item in items]


def run_rows(rows: list[tuple[int, dict]], actor: Actor) -> RunOutcome:
    """Upsert every row in the session's transaction (flushed, not committed), collecting
    every row's errors; a part that depends on a failed part is only checked field by
    field (no 'not found' noise)."""
    out = RunOutcome()
    # The same position / session repeated on many rows: written once, the repeats are
    # no change (the same data again), so they are not looked up again.
    # (Only while it is the latest data written for that id: rows may change it back.)
    latest: dict[tuple, tuple] = {}
    for number, row in rows:
        failed: set[str] = set()
        seen: set[tuple] = set()
        parts = _parts(row)
        if not parts:
            out.errors.append({"row": number, "column": "", "code": "import_row_nothing",
                               "message": NOTHING_TO_IMPORT})
        for kind, data in parts.items():
            ident = (kind, str(data.get("external_id")))
            key = tuple(sorted((k, str(v)) for k, v in data.items()))
            if kind in ("position", "session") and latest.get(ident) == key:
                continue
            try:
                if any(dep in failed for dep in DEPENDS[kind]):
                    CLEANERS[kind](data)
                    continue
                result = UPSERTS[kind](data, actor=actor, source="import")
            except AppError as exc:
                failed.add(kind)
                for error in _row_errors(number, kind, exc):
                    if (error["column"], error["message"]) not in seen:
                        seen.add((error["column"], error["message"]))
                        out.errors.append(error)
                continue
            latest[ident] = key
            ext = data.get("external_id")
            out.seen[kind].add(ext)
            if result.created:
                out.created[kind].add(ext)
            elif result.changed:
                out.updated[kind].add(ext)
            if result.invite is not None:
                out.invitations.append({
                    "row": number, "candidate_id": result.obj.id,
                    "candidate_external_id": ext, "name": result.obj.name,
                    "token": result.invite.token, "link": result.invite.link,
                    "expires_at": iso(result.invite.expires_at)})
        # Everything is flushed: let the session forget the rows, or every flush would
        # look at all of them (quadratic over a file).
        db.session.expunge_all()
    return out


def database_error(out: RunOutcome) -> None:
    out.errors.append({"row": 0, "column": "", "code": "import_database_error",
                       "message": "数据库写入失败，请稍后重试"})


# --- the two steps --------------------------------------------------------------------------

def require_import(actor: Actor) -> None:
    if not actor.can(WRITE_PERMISSION):
        raise Forbidden("只有系统管理员和招聘经理可以导入数据", code="import_forbidden")


def validate_import(filename: str, content: bytes, *, actor: Actor) -> ImportJob:
    """The dry run: check every row as the commit would and store the file with the
    result; nothing else is written. A file that cannot be read raises ImportRefused.
    A file of up to INLINE_CHECK_ROWS rows is checked at once; a longer one is stored
    `checking` for the worker (app.services.integration.import_runner), whose result the
    job page waits for (a request stays well within the server's timeout)."""
    require_import(actor)
    rows = read_rows(filename, content)
    inline = len(rows) <= INLINE_CHECK_ROWS
    # Checked here: claimed by this request (the lease lets the worker take it over
    # should the request die before it wrote the result).
    claimant = "request-" + secrets.token_hex(6) if inline else None
    job = ImportJob(public_id="imp_" + secrets.token_urlsafe(12), created_by=actor.id,
                    filename=(filename or "import")[:200], content=seal_content(content),
                    content_sha256=hashlib.sha256(content).hexdigest(), status="checking",
                    total_rows=len(rows), errors=[], summary={}, claimed_by=claimant,
                    lease_until=utcnow() + timedelta(seconds=CHECK_LEASE_SECONDS)
                    if inline else None)
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    if not inline:
        outbox.wake_dispatcher()
        return job
    check_rows(job_id, rows, actor, claimant)
    return db.session.get(ImportJob, job_id, populate_existing=True)


def check_rows(job_id: int, rows: list[tuple[int, dict]], actor: Actor, claimant: str) -> None:
    """Run the dry run of a `checking` job held by `claimant` (the request or a worker)
    in a transaction rolled back, then record its result (validated or invalid, every
    bad row) and release the job."""
    try:
        out = run_rows(rows, actor)
    except SQLAlchemyError:
        out = RunOutcome()
        database_error(out)
    finally:
        db.session.rollback()
    job = db.session.get(ImportJob, job_id, populate_existing=True)
    earlier = db.session.scalars(select(ImportJob.committed_at).where(
        ImportJob.content_sha256 == job.content_sha256, ImportJob.status == "committed")
        .order_by(ImportJob.id.desc())).first()
    summary = {"counts": out.counts(), "error_count": len(out.errors),
               "invitations": len(out.invitations), "same_file_committed_at": iso(earlier)}
    written = db.session.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.claimed_by == claimant,
                                ImportJob.status == "checking")
        .values(status="invalid" if out.errors else "validated",
                errors=out.errors[:MAX_ERRORS_SHOWN], summary=summary, claimed_by=None,
                lease_until=None, updated_at=utcnow())).rowcount
    if written != 1:  # taken over (this check outlived its lease): the new holder records
        db.session.rollback()
        return
    audit.record(actor_type=actor.type, actor_id=actor.id, action="import.validated",
                 object_type="import_job", object_id=job_id, ip=actor.ip,
                 data={"filename": job.filename, "rows": len(rows),
                       "errors": len(out.errors), "counts": out.counts()})
    db.session.commit()


def get_job(public_id: str, *, actor: Actor, for_update: bool = False) -> ImportJob:
    """An import job, for the user who uploaded it (admins: any)."""
    statement = select(ImportJob).where(ImportJob.public_id == public_id)
    job = db.session.scalars(statement.with_for_update() if for_update else statement).first()
    if job is None or not (job.created_by == actor.id
                           or (actor.departments is None and actor.can("settings"))):
        raise ImportNotFound()
    return job


def queue_import(public_id: str, *, actor: Actor) -> ImportJob:
    """确认导入: queue the stored bytes (exactly what was checked) for the worker
    (app.services.integration.import_runner), which commits them in chunks. Confirming a
    job already queued, running or committed returns it: one run, however many clicks."""
    require_import(actor)
    # Locked: a second 确认导入 (a double click) waits, then finds the job queued.
    job = get_job(public_id, actor=actor, for_update=True)
    if job.created_by != actor.id:
        raise ImportNotFound()
    if job.status in ("queued", "running", "committed"):
        db.session.rollback()
        return job
    if job.status != "validated":
        raise Conflict("该文件有错误，请修改后重新上传", code="import_has_errors")
    job.status = "queued"
    audit.record(actor_type=actor.type, actor_id=actor.id, action="import.queued",
                 object_type="import_job", object_id=job.id, ip=actor.ip,
                 data={"filename": job.filename, "rows": job.total_rows})
    db.session.commit()
    outbox.wake_dispatcher()  # the worker's loop: picked up without waiting for a sweep
    return job


def seal_content(content: bytes) -> bytes:
    """The uploaded file as stored: encrypted (it holds phone numbers)."""
    return crypto.encrypt(base64.b64encode(content).decode("ascii")).encode("ascii")


def stored_content(job: ImportJob) -> bytes:
    """The file exactly as uploaded."""
    return base64.b64decode(crypto.decrypt(job.content.decode("ascii")))


def sealed_invitation(invitation: dict) -> dict:
    return {**{k: v for k, v in invitation.items() if k not in ("token", "link")},
            "token_encrypted": crypto.encrypt(invitation["token"])}


def invitations(job: ImportJob, *, actor: Actor) -> list[dict]:
    """The invitations a committed import created, with their links and QR scenes, for
    the user who imported the file; only those not yet expired (the job keeps the tokens
    no longer than they work)."""
    if job.created_by != actor.id:
        return []
    now = utcnow()
    rows = []
    for item in (job.summary or {}).get("invitation_rows", []):
        expires_at = datetime.fromisoformat(item["expires_at"])
        if expires_at <= now:
            continue
        invite = Invitation(item["candidate_id"], crypto.decrypt(item["token_encrypted"]),
                            expires_at)
        rows.append({**{k: v for k, v in item.items() if k != "token_encrypted"},
                     "scene": invite.scene, "link": invite.link})
    return rows


def recent_jobs(*, actor: Actor, limit: int = 20) -> list[ImportJob]:
    """The user's latest imports."""
    return list(db.session.scalars(select(ImportJob).where(ImportJob.created_by == actor.id)
                                   .order_by(ImportJob.id.desc()).limit(limit)))


def template_rows() -> tuple[list[str], list[list[str]]]:
    """The downloadable template: the headers and one example row."""
    return HEADERS, [TEMPLATE_EXAMPLE]


__all__ = ["COLUMNS", "HEADERS", "MAX_BYTES", "MAX_ROWS", "ImportRefused", "read_rows",
           "run_rows", "validate_import", "check_rows", "queue_import", "get_job", "invitations",
           "recent_jobs", "template_rows"]
