"""Console fixtures: the factories of tests/factories.py bound to this test's app, under
the names the console tests use, and a client logged in as a recruiting specialist."""
from __future__ import annotations

from functools import partial

import pytest

from tests import factories
from tests.factories import PASSWORD  # noqa: F401  (the default password of make_user)


@pytest.fixture
def csrf_token():
    """csrf_token(client, path="/console/login") -> the token of that page's form."""
    return factories.csrf_token


@pytest.fixture
def login():
    """login(client, username, password=PASSWORD, next_url=None) -> the POST response."""
    return factories.console_login


@pytest.fixture
def make_user(app):
    """make_user(username="zhaopin", role=..., active=True, display_name=..., password=...,
    departments=("技术部",)) -> the HR user's id."""
    return partial(factories.hr_user, app)


@pytest.fixture
def hr_client(client, make_user):
    """A test client logged in as a recruiting specialist."""
    make_user()
    response = factories.console_login(client, "zhaopin")
    assert response.status_code == 302
    return client


@pytest.fixture
def make_interview(app):
    """make_interview(number=..., name=..., title=..., status=..., scheduled_at=...,
    phone=...) -> SimpleNamespace(id, public_id, number, ...)."""
    return partial(factories.interview, app)


@pytest.fixture
def make_message(app):
    """make_message(interview_id, status=SENT, recipient_type="candidate", recipient_id=1,
    channel="subscribe", **fields) -> the outbox row's id."""
    return partial(factories.outbox_message, app)


@pytest.fixture
def make_cancellation(app):
    """make_cancellation(interview_id, label=..., note=None, state=EFFECTIVE, ...) -> id."""
    return partial(factories.cancellation, app)


@pytest.fixture
def make_audit(app):
    """make_audit(interview_id, action, at=None, actor_type="system", ...) -> id."""
    return partial(factories.audit_entry, app)
