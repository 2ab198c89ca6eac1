"""导入: upload a CSV / XLSX file, see every bad row (dry run), then 确认导入 (the worker
commits it; the job page shows the progress); the result with the invitations for new
candidates (exportable)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.errors import AppError
from app.services.integration import imports
from app.services.integration.upsert import WRITE_PERMISSION
from app.services.reports import downloads, export

KIND_LABELS = {"position": "岗位", "session": "场次", "candidate": "候选人", "interview": "面试"}
STATUS_LABELS = {"checking": "正在检查", "validated": "检查通过，待确认", "invalid": "有错误",
                 "queued": "排队等待导入", "running": "正在导入", "committed": "已导入",
                 "failed": "导入失败"}
# How often the page of a job being imported reloads itself (a meta refresh: no script).
REFRESH_SECONDS = 2
INVITATION_HEADERS = ["行号", "候选人编号", "姓名", "邀请链接（小程序页面）", "小程序码 scene",
                      "有效期至"]
# What each column takes, shown on the page beside the template.
COLUMN_NOTES = {
    "岗位编号": "必填。贵司系统中的岗位 ID，按它新增或更新",
    "岗位名称": "填写则新增/更新岗位（同时需 部门、级别）",
    "高级岗位": "是 / 否（默认否）",
    "取消需审核": "是 / 否（默认否）",
    "场次编号": "选填。面试所属场次的 ID",
    "开始时间": "填写则新增/更新场次（同时需 结束时间、容量）；北京时间，如 2027-03-15 14:00",
    "容量": "场次可容纳的面试数，1-10000",
    "候选人编号": "必填。贵司系统中的候选人 ID",
    "手机号": "11 位中国大陆手机号，加密保存",
    "面试编号(外部)": "AI 面试平台 / ATS 中的面试 ID，按它新增或更新",
    "面试时间": "北京时间，或带时区的 ISO 8601；有场次时须在场次时间内",
    "时长(分钟)": "5-480，默认 30",
    "面试官账号": "本系统中面试官的用户名",
    "面试链接": "http:// 或 https:// 开头",
    "确认截止时间": "不晚于面试时间",
    "面试编号": "留空则自动生成，如 AI-2027-03-15-001",
}


class UploadForm(FlaskForm):
    """The file (checked by the service, which reads it)."""

    file = FileField("导入文件")


class ConfirmImportForm(FlaskForm):
    """No fields: carries the CSRF token of 确认导入."""


def _read_upload() -> tuple[str, bytes] | None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return None
    content = upload.stream.read(imports.MAX_BYTES + 1)
    return upload.filename, content


@bp.get("/imports")
@permission_required(WRITE_PERMISSION)
def imports_page():
    """The upload form, the columns and the template; the user's recent imports."""
    return render_template("console/imports/index.html", form=UploadForm(),
                           columns=imports.COLUMNS, notes=COLUMN_NOTES,
                           max_rows=imports.MAX_ROWS,
                           max_mb=imports.MAX_BYTES // (1024 * 1024),
                           jobs=imports.recent_jobs(actor=current_actor()),
                           status_labels=STATUS_LABELS)


@bp.get("/imports/template.<fmt>")
@permission_required(WRITE_PERMISSION)
def imports_template(fmt: str):
    """The template file (CSV or XLSX) with the headers and one example row."""
    if fmt not in export.FORMATS:
        abort(404)
    headers, rows = imports.template_rows()
    return export.download(fmt, "面试导入模板", headers, rows, sheet_title="面试导入")


@bp.post("/imports")
@permission_required(WRITE_PERMISSION)
def imports_upload():
    """The dry run: store the file and check every row (a long file: the worker checks
    it, the job page waits); nothing else is written."""
    form = UploadForm()
    if not form.validate_on_submit():
        abort(400)
    upload = _read_upload()
    if upload is None:
        return redirect(url_for("console.imports_page"))
    try:
        job = imports.validate_import(*upload, actor=current_actor())
    except imports.ImportRefused as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.imports_page"))
    return redirect(url_for("console.import_job", public_id=job.public_id))


@bp.get("/imports/<public_id>")
@permission_required(WRITE_PERMISSION)
def import_job(public_id: str):
    """A dry run's result (every bad row), an import's progress (rows done, reloading
    itself until the end), or a committed import's counts and invitations (a failed one's
    too: the candidates its chunks committed before the failing row have theirs)."""
    actor = current_actor()
    job = imports.get_job(public_id, actor=actor)
    return render_template("console/imports/job.html", job=job,
                           status_label=STATUS_LABELS.get(job.status, job.status),
                           kinds=KIND_LABELS, counts=(job.summary or {}).get("counts", {}),
                           invitations=imports.invitations(job, actor=actor)
                           if job.status in ("committed", "failed") else [],
                           confirm_form=ConfirmImportForm(),
                           in_progress=job.status in ("checking", "queued", "running"),
                           refresh_seconds=REFRESH_SECONDS)


@bp.post("/imports/<public_id>/commit")
@permission_required(WRITE_PERMISSION)
def import_commit(public_id: str):
    """确认导入: queue the stored file for the worker (once, however many clicks), then
    the job page shows its progress."""
    if not ConfirmImportForm().validate_on_submit():
        abort(400)
    try:
        imports.queue_import(public_id, actor=current_actor())
    except AppError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    return redirect(url_for("console.import_job", public_id=public_id))


@bp.get("/imports/<public_id>/invitations.<fmt>")
@permission_required(WRITE_PERMISSION)
def import_invitations(public_id: str, fmt: str):
    """The invitations a committed import created, as CSV or XLSX."""
    if fmt not in export.FORMATS:
        abort(404)
    actor = current_actor()
    job = imports.get_job(public_id, actor=actor)
    found = imports.invitations(job, actor=actor)
    # Tokens leave the system: audited like every export.
    downloads.record_export(actor, "import_invitations", fmt, {"import": job.public_id},
                            ip=actor.ip)
    rows = ([i["row"], i["candidate_external_id"], i["name"], i["link"], i["scene"],
             i["expires_at"]] for i in found)
    return export.download(fmt, f"面试邀请-{job.public_id}", INVITATION_HEADERS, rows,
                           sheet_title="面试邀请")
