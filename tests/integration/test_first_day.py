"""A company's first day, as a new IT engineer would go through it on production settings
(README "First day (production)"), without a Python shell:

empty database -> `flask db upgrade` -> `flask setup --admin ...` (default reasons and
rules, the first admin) -> the admin signs in to the console -> imports a file (确认导入),
or an API key from `flask api-keys create` upserts the same through /api/integration/v1
-> takes the new candidate's invitation -> the candidate logs in to the mini-program API
with WeChat (the sandbox, reached over HTTP as WeChat would be), binds with the invitation
and cancels successfully.

The app under test is built from the environment by ProductionConfig (APP_ENV=production,
every secret from environment variables, as wsgi.py does); its database is a new one of
this backend's kind (a SQLite file, or a new PostgreSQL database) and its Redis the real
one under a prefix of its own. Only WeChat is faked: by the sandbox of the test app's
live server, which the production app does not mount.
"""
from __future__ import annotations

import csv
import io
import re
import secrets
import uuid
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from app import create_app
from app.core.timeutil import SHANGHAI, utcnow
from app.services.integration.import_runner import run_due_imports
from config.settings import SANDBOX_DEFAULTS
from tests.conftest import PG_ADMIN_URL, REDIS_URL, REQUIRE_SERVICES, _reachable
from tests.factories import API, CSRF_RE

ADMIN_PASSWORD = "first-day-Admin-2027"


@pytest.fixture
def production_env(app, backend, tmp_path, monkeypatch):
    """The environment of a fresh production install; yields its database URL."""
    if not _reachable(REDIS_URL, 6379):
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis ({REDIS_URL}) is required for production settings")
        pytest.skip(f"production settings need Redis ({REDIS_URL}), not reachable")
    pg_database = None
    if backend.name == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'first-day.db'}"
    else:
        pg_database = f"aiic_firstday_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_database}"'))
        admin.dispose()
        database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_database
    prefix = f"aiicfirstday:{uuid.uuid4().hex[:10]}:"
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        # WeChat: the sandbox's app ids and secrets, at the sandbox's address.
        **{key: SANDBOX_DEFAULTS[key] for key in SANDBOX_DEFAULTS if key.startswith("WECHAT_")},
        "WECHAT_API_BASE": app.config["LIVE_SERVER_URL"] + "/_sandbox/wechat",
        "PUBLIC_BASE_URL": "https://hr.example.com",
        "SETUP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # README "First day": the metrics token, the template ids, the SMS channel
        "METRICS_TOKEN": secrets.token_urlsafe(16),
        **{key: f"prod-{key.lower()}" for key in (
            "WECHAT_TPL_INTERVIEW_CANCELLED", "WECHAT_TPL_CANCEL_REQUEST",
            "WECHAT_TPL_INTERVIEW_CHANGED", "WECHAT_TPL_CONFIRM_REMINDER",
            "WECHAT_TPL_SLOT_OFFER", "WECHAT_OA_TPL_HR_ALERT")},
        "SMS_PROVIDER": "disabled",
    }
    for key in ("CANCEL_DEADLINE_HOURS", "NOTIFY_PROMISE_MINUTES", "TESTING"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield database_url
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()
    if pg_database:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'))
        admin.dispose()


def _csrf(client, path):
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


@pytest.mark.parametrize("way", ["import", "api"])
def test_first_day_from_an_empty_database_to_a_candidates_cancel(production_env, way):
    app = create_app()  # what `flask --app wsgi` builds: the config APP_ENV names
    assert app.config["ENV_NAME"] == "production" and not app.config["SANDBOX_ENABLED"]
    try:
        _first_day(app, way)
    finally:
        from app.extensions import db

        with app.app_context():
            db.engine.dispose()


def _first_day(app, way):
    runner = app.test_cli_runner()
    # 1. Schema, defaults, the first admin (each command twice: safe to run again).
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(args=["setup", "--admin", "it_admin", "--name", "信息部管理员"])
    assert result.exit_code == 0, result.output
    assert "cancel reasons: 8 added" in result.output and "admin it_admin: created" in result.output
    again = runner.invoke(args=["setup", "--admin", "it_admin", "--name", "信息部管理员"])
    assert again.exit_code == 0, again.output
    assert "cancel reasons: 0 added" in again.output and "exists already" in again.output

    # 2. The admin signs in to the console.
    console = app.test_client()
    response = console.post("/console/login", data={
        "csrf_token": _csrf(console, "/console/login"), "username": "it_admin",
        "password": ADMIN_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "导入" in console.get("/console/interviews").get_data(as_text=True)

    # 3. One interview gets in: by the console's 导入, or by the integration API.
    starts = (utcnow() + timedelta(days=3)).astimezone(SHANGHAI).replace(
        hour=14, minute=0, second=0, microsecond=0)
    scene = _by_import(app, console, starts) if way == "import" else _by_api(app, runner, starts)

    # 4. The candidate: WeChat login (sandbox code), bind with the invitation, cancel.
    mp = app.test_client()
    login = mp.post(f"{API}/auth/login", json={"code": "sandbox:first-day-candidate"})
    assert login.status_code == 200, login.get_json()
    assert login.get_json()["bound"] is False
    auth = {"Authorization": f"Bearer {login.get_json()['token']}"}
    bind = mp.post(f"{API}/auth/bind", json={"invite_token": scene}, headers=auth)
    assert bind.status_code == 200, bind.get_json()
    login = mp.post(f"{API}/auth/login", json={"code": "sandbox:first-day-candidate"})
    assert login.get_json()["bound"] is True
    auth = {"Authorization": f"Bearer {login.get_json()['token']}"}
    interviews = mp.get(f"{API}/interviews", headers=auth).get_json()["items"]
    assert len(interviews) == 1 and interviews[0]["can_cancel"] is True
    reasons = mp.get(f"{API}/cancel-reasons", headers=auth).get_json()["items"]
    assert "time_conflict" in [r["code"] for r in reasons]
    cancel = mp.post(f"{API}/interviews/{interviews[0]['id']}/cancel",
                     json={"reason_code": "time_conflict"},
                     headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
    assert cancel.status_code == 200, cancel.get_json()
    assert cancel.get_json()["status"] == "cancelled"

    # The console shows it cancelled by the candidate.
    listing = console.get("/console/interviews?status=cancelled").get_data(as_text=True)
    assert "张三" in listing


def _by_import(app, console, starts) -> str:
    """导入 a file with one row (position, session, candidate, interview); 确认导入 (the
    worker commits it); the new candidate's invitation scene from the result page."""
    fmt = "%Y-%m-%d %H:%M"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([
        ["岗位编号", "岗位名称", "部门", "级别", "场次编号", "开始时间", "结束时间", "容量",
         "候选人编号", "姓名", "手机号", "面试编号(外部)", "面试时间"],
        ["ATS-P-1", "Java后端开发工程师", "技术部", "P5", "ATS-S-1", starts.strftime(fmt),
         (starts + timedelta(hours=2)).strftime(fmt), "8", "ATS-C-1", "张三", "13800138000",
         "ATS-I-1", starts.strftime(fmt)]])
    response = console.post("/console/imports", data={
        "csrf_token": _csrf(console, "/console/imports"),
        "file": (io.BytesIO(buffer.getvalue().encode("utf-8")), "第一批面试.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    job_page = response.headers["Location"]
    assert "确认导入" in console.get(job_page).get_data(as_text=True)
    response = console.post(job_page + "/commit", data={"csrf_token": _csrf(console, job_page)})
    assert response.status_code == 302
    with app.app_context():  # the worker's turn (no outbox sends: production settings)
        assert run_due_imports("worker-1") == 1
    page = console.get(job_page).get_data(as_text=True)
    assert "已导入" in page
    [scene] = re.findall(r"<code data-scene>([^<]+)</code>", page)
    return scene


def _by_api(app, runner, starts) -> str:
    """An API key from `flask api-keys create` (the key on its last line), then the four
    upserts; the invitation comes back with the new candidate."""
    result = runner.invoke(args=["api-keys", "create", "--name", "ATS",
                                 "--scopes", "interviews:write"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1].strip()
    api = app.test_client()

    def put(path, body):
        response = api.put(f"/api/integration/v1/{path}", json=body, headers={
            "Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    put("positions/ATS-P-1", {"title": "Java后端开发工程师", "department": "技术部",
                              "level": "P5"})
    put("sessions/ATS-S-1", {"position_external_id": "ATS-P-1",
                             "starts_at": starts.isoformat(),
                             "ends_at": (starts + timedelta(hours=2)).isoformat(),
                             "capacity": 8})
    invite = put("candidates/ATS-C-1", {"name": "张三", "phone": "13800138000"})["invite"]
    put("interviews/ATS-I-1", {"candidate_external_id": "ATS-C-1",
                               "position_external_id": "ATS-P-1",
                               "session_external_id": "ATS-S-1",
                               "scheduled_at": starts.isoformat()})
    return invite["qr_scene"]


def test_setup_asks_for_the_password_and_leaves_hr_changes_alone(app, runner, monkeypatch):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import AuditEntry, CancelReason, HrUser, Setting

    monkeypatch.delenv("SETUP_ADMIN_PASSWORD", raising=False)
    short = runner.invoke(args=["setup", "--admin", "boss", "--name", "老板"],
                          input="short\nshort\n")
    assert short.exit_code != 0 and "10" in short.output  # the password rule's message
    assert runner.invoke(args=["setup", "--admin", "boss"]).exit_code != 0  # --name needed
    done = runner.invoke(args=["setup", "--admin", "boss", "--name", "老板"],
                         input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert done.exit_code == 0, done.output
    with app.app_context():
        user = db.session.scalars(select(HrUser)).one()
        assert user.role.value == "admin" and user.check_password(ADMIN_PASSWORD)
        reason = db.session.scalars(select(CancelReason).where(
            CancelReason.code == "personal")).one()
        reason.active, reason.label = False, "私事"  # HR retires and renames one
        db.session.delete(db.session.scalars(select(CancelReason).where(
            CancelReason.code == "other")).one())
        rules = db.session.get(Setting, "rules")
        assert rules.value["cancel_deadline_hours"] == 2
        rules.value = {**rules.value, "cancel_deadline_hours": 6}
        db.session.commit()
    again = runner.invoke(args=["setup"])
    assert again.exit_code == 0 and "cancel reasons: 1 added (other)" in again.output
    with app.app_context():
        reason = db.session.scalars(select(CancelReason).where(
            CancelReason.code == "personal")).one()
        assert (reason.active, reason.label) == (False, "私事")
        assert db.session.get(Setting, "rules").value["cancel_deadline_hours"] == 6
        assert db.session.scalar(select(func.count()).select_from(CancelReason)) == 8
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "settings.defaults_installed")) == 2
