"""Console test helpers: CSRF-aware login and small factories that write rows directly."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    HrUser,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Position,
    ReasonActor,
    Role,
)

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "correct-horse-42"


def get_csrf_token(client, path: str = "/console/login") -> str:
    """GET a console page and return the CSRF token of its form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def do_login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    """Log in through the real form (CSRF on); returns the POST response."""
    token = get_csrf_token(client)
    query = {"next": next_url} if next_url is not None else {}
    return client.post("/console/login", query_string=query,
                       data={"csrf_token": token, "username": username,
                             "password": password})


@pytest.fixture
def csrf_token():
    """csrf_token(client, path="/console/login") -> the token of that page's form."""
    return get_csrf_token


@pytest.fixture
def login():
    """login(client, username, password=PASSWORD, next_url=None) -> the POST response."""
    return do_login


@pytest.fixture
def make_user(app):
    def make(username="zhaopin", role=Role.RECRUITING_SPECIALIST, active=True,
             display_name="王招聘", password=PASSWORD, departments=("技术部",)):
        with app.app_context():
            user = HrUser(username=username, display_name=display_name, role=role,
                          active=active)
            user.departments = departments  # the department make_interview's positions use
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            return user.id
    return make


@pytest.fixture
def hr_client(client, make_user):
    """A test client logged in as a recruiting specialist."""
    make_user()
    response = do_login(client, "zhaopin")
    assert response.status_code == 302
    return client


@pytest.fixture
def make_interview(app):
    def make(number="AI-2026-11-22-001", name="张三", title="Java工程师",
             status=InterviewStatus.SCHEDULED, scheduled_at=None, phone="13800138000"):
        with app.app_context():
            candidate = Candidate(name=name, phone=phone)
            position = Position(title=title, department="技术部", level="P6")
            interview = Interview(number=number, candidate=candidate, position=position,
                                  status=status,
                                  scheduled_at=scheduled_at or utcnow() + timedelta(days=1))
            db.session.add(interview)
            db.session.commit()
            return SimpleNamespace(id=interview.id, public_id=interview.public_id,
                                   number=number)
    return make


@pytest.fixture
def make_message(app):
    def make(interview_id, status=OutboxStatus.SENT, recipient_type="candidate",
             recipient_id=1, channel="subscribe", **fields):
        with app.app_context():
            message = OutboxMessage(
                dedupe_key=f"test:{uuid.uuid4().hex}", event="interview.cancelled",
                kind="interview_cancelled", interview_id=interview_id,
                recipient_type=recipient_type, recipient_id=recipient_id, channel=channel,
                status=status, next_attempt_at=utcnow(), **fields)
            db.session.add(message)
            db.session.commit()
            return message.id
    return make


@pytest.fixture
def make_cancellation(app):
    def make(interview_id, label="时间冲突", note=None, state=CancellationState.EFFECTIVE,
             actor_type="candidate", actor_id=None):
        with app.app_context():
            reason = CancelReason(code=f"r{uuid.uuid4().hex[:12]}", label=label,
                                  category="candidate_initiated",
                                  actor=ReasonActor.CANDIDATE)
            cancellation = Cancellation(interview_id=interview_id, reason=reason, note=note,
                                        state=state, actor_type=actor_type,
                                        actor_id=actor_id)
            db.session.add(cancellation)
            db.session.commit()
            return cancellation.id
    return make


@pytest.fixture
def make_audit(app):
    def make(interview_id, action, at=None, actor_type="system", actor_id=None, data=None):
        with app.app_context():
            entry = AuditEntry(action=action, object_type="interview", object_id=interview_id,
                               actor_type=actor_type, actor_id=actor_id, data=data or {},
                               at=at or utcnow())
            db.session.add(entry)
            db.session.commit()
            return entry.id
    return make
