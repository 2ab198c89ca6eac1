"""Reading, cancelling and reporting interviews through /api/integration/v1, within the
key's departments; writes audited with the key as the actor; Idempotency-Key replays."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.errors import AppError
from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
)
from tests import factories
from tests.integration.conftest import BASE


def _interview(app, number: str) -> Interview:
    with app.app_context():
        row = db.session.scalars(select(Interview).where(Interview.number == number)).one()
        db.session.expunge(row)
        return row


def _entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_read_by_external_id_or_number_with_cancellation_and_notifications(
        app, client, make_key, tech_and_sales, reasons):
    key = make_key()
    tech = tech_and_sales.tech
    factories.outbox_message(app, tech.id, status=OutboxStatus.DELIVERED, channel="subscribe",
                             kind="company_cancelled")
    by_ext = client.get(f"{BASE}/interviews/ext-tech-1", headers=key.headers)
    assert by_ext.status_code == 200, by_ext.get_json()
    body = by_ext.get_json()
    assert body["external_id"] == "ext-tech-1" and body["number"] == tech.number
    assert body["status"] == "scheduled" and body["status_label"] == "待确认"
    assert body["cancellation"] is None
    [message] = body["notifications"]
    assert message["channel"] == "subscribe" and message["status"] == "delivered"
    assert set(message) >= {"sent_at", "delivered_at", "read_at"}
    assert client.get(f"{BASE}/interviews/{tech.number}", headers=key.headers).get_json() \
        == body
    missing = client.get(f"{BASE}/interviews/nope", headers=key.headers)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "interview_not_found"


def test_cancel_as_the_company_through_the_same_policy(app, client, make_key, tech_and_sales,
                                                       reasons):
    key = make_key()
    url = f"{BASE}/interviews/ext-tech-1/cancel"
    missing = client.post(url, headers=key.headers, json={})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["code"] == "field_required"
    wrong_side = client.post(url, headers=key.headers,
                             json={"reason_code": reasons.candidate})
    assert wrong_side.status_code == 422
    assert wrong_side.get_json()["error"]["code"] == "invalid_reason"

    done = client.post(url, headers=key.headers,
                       json={"reason_code": reasons.company, "note": "岗位已关闭"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "cancelled"
    cancellation = body["interview"]["cancellation"]
    assert cancellation["cancelled_by"] == "company"
    assert cancellation["actor_type"] == "integration"
    assert cancellation["reason_code"] == reasons.company
    assert cancellation["reason_label"] == "岗位已招满" and cancellation["note"] == "岗位已关闭"
    assert cancellation["state"] == "effective"
    # the candidate is told the company cancelled (the same message as an HR cancel)
    with app.app_context():
        kinds = set(db.session.scalars(select(OutboxMessage.kind).where(
            OutboxMessage.recipient_type == "candidate")))
        row = db.session.scalars(select(Cancellation)).one()
        assert (row.actor_type, row.actor_id) == ("integration", key.id)
    assert kinds == {"candidate_cancelled_by_company"}
    # the audit log names the key
    [entry] = _entries(app, "interview.cancelled")
    assert (entry.actor_type, entry.actor_id) == ("integration", key.id)

    # again: the same error code as the console's cancel (the same core)
    again = client.post(url, headers=key.headers, json={"reason_code": reasons.company})
    assert again.status_code == 409
    from app.models import HrUser
    from app.services.cancellation import commands
    from app.services.users.actor import Actor

    admin_id = factories.hr_user(app, "admin1", role=Role.ADMIN)
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, admin_id))
        with pytest.raises(AppError) as console_error:
            commands.cancel_by_hr(actor, tech_and_sales.tech.public_id,
                                  reason_code=reasons.company)
    assert again.get_json()["error"]["code"] == console_error.value.code == "already_cancelled"


def test_a_key_of_one_department_neither_reads_nor_cancels_another(app, client, make_key,
                                                                   tech_and_sales, reasons):
    sales_key = make_key(departments=("销售部",))
    assert client.get(f"{BASE}/interviews/ext-sales-1",
                      headers=sales_key.headers).status_code == 200
    for ref in ("ext-tech-1", tech_and_sales.tech.number):
        read = client.get(f"{BASE}/interviews/{ref}", headers=sales_key.headers)
        assert read.status_code == 404
        cancel = client.post(f"{BASE}/interviews/{ref}/cancel", headers=sales_key.headers,
                             json={"reason_code": reasons.company})
        assert cancel.status_code == 404
        assert cancel.get_json()["error"]["code"] == "interview_not_found"
        outcome = client.post(f"{BASE}/interviews/{ref}/outcome", headers=sales_key.headers,
                              json={"outcome": "no_show"})
        assert outcome.status_code == 404
    assert _interview(app, tech_and_sales.tech.number).status == InterviewStatus.SCHEDULED


def test_idempotency_key_replays_the_first_answer_and_cancels_once(app, client, make_key,
                                                                   tech_and_sales, reasons):
    key = make_key()
    url = f"{BASE}/interviews/ext-tech-1/cancel"
    headers = {**key.headers, "Idempotency-Key": "cancel-ext-tech-1"}
    first = client.post(url, headers=headers, json={"reason_code": reasons.company})
    replay = client.post(url, headers=headers, json={"reason_code": reasons.company})
    assert first.status_code == replay.status_code == 200
    assert replay.get_json() == first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(_entries(app, "interview.cancelled")) == 1
    reused = client.post(url, headers=headers, json={"reason_code": "other"})
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    # another key's Idempotency-Key space is its own
    other = make_key(name="other")
    r = client.post(url, headers={**other.headers, "Idempotency-Key": "cancel-ext-tech-1"},
                    json={"reason_code": reasons.company})
    assert r.status_code == 409 and "Idempotent-Replayed" not in r.headers


@pytest.mark.parametrize("outcome,status", [("completed", InterviewStatus.COMPLETED),
                                            ("no_show", InterviewStatus.NO_SHOW)])
def test_report_outcome(app, client, make_key, past_interview, outcome, status):
    key = make_key()
    url = f"{BASE}/interviews/ext-past-1/outcome"
    r = client.post(url, headers=key.headers, json={"outcome": outcome})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["changed"] is True
    assert r.get_json()["interview"]["status"] == outcome
    assert _interview(app, past_interview.number).status == status
    [entry] = _entries(app, f"interview.{outcome}")
    assert (entry.actor_type, entry.actor_id) == ("integration", key.id)
    assert entry.data["before"] == {"status": "scheduled"}
    assert entry.data["after"] == {"status": outcome}
    again = client.post(url, headers=key.headers, json={"outcome": outcome})
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert len(_entries(app, f"interview.{outcome}")) == 1
    other = "no_show" if outcome == "completed" else "completed"
    final = client.post(url, headers=key.headers, json={"outcome": other})
    assert final.status_code == 409
    assert final.get_json()["error"]["code"] == "outcome_not_allowed"


def test_outcome_refused_before_the_start_after_a_cancel_and_for_unknown_values(
        app, client, make_key, tech_and_sales, reasons):
    key = make_key()
    url = f"{BASE}/interviews/ext-tech-1/outcome"
    early = client.post(url, headers=key.headers, json={"outcome": "completed"})
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] == "interview_not_started"
    bad = client.post(url, headers=key.headers, json={"outcome": "passed"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"] == {"field": "outcome"}
    client.post(f"{BASE}/interviews/ext-tech-1/cancel", headers=key.headers,
                json={"reason_code": reasons.company})
    closed = client.post(url, headers=key.headers, json={"outcome": "no_show"})
    assert closed.status_code == 409
    assert closed.get_json()["error"]["code"] == "outcome_not_allowed"


def test_cancel_reasons_are_the_company_side_ones(app, client, make_key, reasons):
    key = make_key(scopes=("interviews:read",))
    r = client.get(f"{BASE}/cancel-reasons", headers=key.headers)
    assert [item["code"] for item in r.get_json()["items"]] == [reasons.company]


def test_body_limit(app, client, make_key, tech_and_sales):
    key = make_key()
    app.config["INTEGRATION_MAX_BODY_BYTES"] = 1000
    r = client.post(f"{BASE}/interviews/ext-tech-1/cancel", headers=key.headers,
                    json={"reason_code": "x", "note": "长" * 2000})
    assert r.status_code == 413
    assert r.get_json()["error"]["code"] == "payload_too_large"
