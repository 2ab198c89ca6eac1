"""Integration API fixtures: API keys made through the service, and the API's prefix."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from app.core.timeutil import utcnow
from app.models import ReasonActor
from tests import factories

BASE = "/api/integration/v1"
ALL_SCOPES = ("interviews:read", "interviews:write", "reports:read")


def bearer(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}


@pytest.fixture
def make_key(app):
    """make_key(scopes=ALL_SCOPES, departments=(), name="ATS") -> SimpleNamespace(id,
    secret, headers)."""
    def make(scopes=ALL_SCOPES, departments=(), name="ATS"):
        from app.services.integration import keys

        with app.app_context():
            created = keys.create_key(name=name, scopes=list(scopes),
                                      departments=list(departments))
            return SimpleNamespace(id=created.key.id, secret=created.secret,
                                   headers=bearer(created.secret))
    return make


@pytest.fixture
def reasons(app):
    """A company-side reason (position_filled) and a candidate-side one (time_conflict)."""
    factories.cancel_reason(app, "position_filled", label="岗位已招满",
                            category="position_change", actor=ReasonActor.COMPANY)
    factories.cancel_reason(app, "time_conflict", label="时间冲突")
    return SimpleNamespace(company="position_filled", candidate="time_conflict")


@pytest.fixture
def tech_and_sales(app):
    """One scheduled interview tomorrow in 技术部 and one in 销售部, with external ids."""
    tech = factories.interview(app, "AI-2026-12-02-001", name="张三",
                               external_id="ext-tech-1")
    sales_position = factories.position(app, "销售代表", department="销售部")
    sales = factories.interview(app, "AI-2026-12-02-002", name="李四",
                                position_id=sales_position, external_id="ext-sales-1")
    return SimpleNamespace(tech=tech, sales=sales)


@pytest.fixture
def past_interview(app):
    """An interview that started an hour ago (its outcome can be reported)."""
    return factories.interview(app, "AI-2026-12-01-009", external_id="ext-past-1",
                               scheduled_at=utcnow() - timedelta(hours=1))
