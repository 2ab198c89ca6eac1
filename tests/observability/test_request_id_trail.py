"""A request id follows a cancellation (issue 12 §7): the request's X-Request-Id (the
proxy's, or ours) is on every response, on each outbox message and webhook delivery the
cancellation queued and in its audit entry, on the worker's send log lines, and on the
interview's console pages (desktop and mobile), so one grep of the id finds it all.

On PostgreSQL the candidate's cancel is one statement: the id rides in it
(tests/api/test_cancel_hot_path.py keeps counting the statements).
"""
from __future__ import annotations

import logging
import re
import uuid

from sqlalchemy import select

from app.extensions import db
from app.jobs.worker import drain
from app.models import AuditEntry, CancelBatch, Interview, OutboxMessage
from app.models.webhook import WebhookDelivery
from tests import factories
from tests.factories import API, CSRF_RE, console_client, csrf_token, mp_login


def _rows(app, interview_id: int):
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.interview_id == interview_id)).all()
        deliveries = db.session.scalars(select(WebhookDelivery)).all()
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "interview", AuditEntry.object_id == interview_id,
            AuditEntry.action.like("interview.cancel%"))).all()
        return ([m.request_id for m in messages], [d.request_id for d in deliveries],
                [a.data.get("request_id") for a in audit])


def _candidate_cancel(app, client, headers: dict | None = None):
    """A bound candidate with one interview, a webhook endpoint, and the cancel POST."""
    factories.cancel_reason(app, "time_conflict")
    factories.webhook_endpoint(app, "http://127.0.0.1:9/hook")
    cand = factories.mp_candidate(app, openid=f"o-trail-{uuid.uuid4().hex[:8]}")
    auth = mp_login(client, cand["openid"], bound=True)
    public_id = cand["interview_ids"][0]
    r = client.post(f"{API}/interviews/{public_id}/cancel",
                    headers={**auth, "Idempotency-Key": str(uuid.uuid4()), **(headers or {})},
                    json={"reason_code": "time_conflict"})
    assert r.status_code == 200, r.get_json()
    with app.app_context():
        interview_id = db.session.scalar(select(Interview.id).where(
            Interview.public_id == public_id))
    return r, interview_id, public_id


def test_a_candidates_cancel_carries_the_proxys_request_id_to_every_row_it_queued(
        app, client):
    r, interview_id, _ = _candidate_cancel(app, client, {"X-Request-Id": "trail-0001"})
    assert r.headers["X-Request-Id"] == "trail-0001"
    messages, deliveries, audit = _rows(app, interview_id)
    assert len(messages) >= 1 and set(messages) == {"trail-0001"}
    assert deliveries == ["trail-0001"]
    assert audit == ["trail-0001"]  # in the data: the audit chain's hash covers it


def test_without_a_proxy_id_the_rows_carry_the_one_the_response_names(app, client):
    r, interview_id, _ = _candidate_cancel(app, client)
    generated = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    messages, deliveries, audit = _rows(app, interview_id)
    assert set(messages) == {generated} and deliveries == [generated] and audit == [generated]


def test_a_client_request_id_that_is_not_plain_is_replaced_everywhere(app, client):
    r, interview_id, _ = _candidate_cancel(app, client, {"X-Request-Id": "a b\"<x>"})
    generated = r.headers["X-Request-Id"]
    assert generated != "a b\"<x>" and re.fullmatch(r"[0-9a-f]{32}", generated)
    messages, deliveries, _audit = _rows(app, interview_id)
    assert set(messages) == {generated} and deliveries == [generated]


def test_every_response_names_its_request_id(client):
    assert client.get("/healthz").headers["X-Request-Id"]
    assert client.get("/healthz", headers={"X-Request-Id": "lb-42"}).headers[
        "X-Request-Id"] == "lb-42"


def _tech_interview(app):
    from app.models import Position

    with app.app_context():
        iv = db.session.scalars(select(Interview).join(Interview.position).where(
            Position.department == "技术部", Position.cancel_requires_review.is_(False))
            .order_by(Interview.id)).first()
        return iv.public_id, iv.id


def test_an_hr_cancel_in_the_console_is_shown_with_its_request_id_on_both_pages(app, demo):
    factories.webhook_endpoint(app, "http://127.0.0.1:9/hook", name="ATS 对接")
    public_id, interview_id = _tech_interview(app)
    client = console_client(app, "specialist")
    r = client.post(f"/console/interviews/{public_id}/cancel",
                    headers={"X-Request-Id": "console-cancel-7f3a9c2e1b"},
                    data={"csrf_token": csrf_token(client, "/console/interviews"),
                          "reason_code": "position_paused", "note": "编制冻结",
                          "notify": ["candidate", "recruiter"]})
    assert r.status_code == 302
    messages, deliveries, audit = _rows(app, interview_id)
    assert messages and set(messages) == {"console-cancel-7f3a9c2e1b"}
    assert deliveries == ["console-cancel-7f3a9c2e1b"] and audit == deliveries

    page = client.get(f"/console/interviews/{public_id}").get_data(as_text=True)
    tags = re.findall(r'data-request-id="([^"]+)"[^>]*>请求编号 ([^<]+)<', page)
    # each message and the delivery: short on screen, whole in the attribute
    assert len(tags) == len(messages) + 1
    assert set(tags) == {("console-cancel-7f3a9c2e1b", "console-canc…")}
    assert "系统对接推送" in page and "ATS 对接" in page

    openid = factories.bind_hr_wechat(app, "specialist")
    mobile = app.test_client()
    factories.mobile_login(mobile, openid)
    m_page = mobile.get(f"/console/m/interviews/{public_id}").get_data(as_text=True)
    assert m_page.count('data-request-id="console-cancel-7f3a9c2e1b"') == len(messages) + 1


def test_a_batch_run_by_the_worker_carries_the_confirming_requests_id(app, demo,
                                                                      monkeypatch):
    from app.services.cancellation import batch

    monkeypatch.setattr(batch, "INLINE_LIMIT", 0)  # queued for the worker
    with app.app_context():
        session_id = db.session.scalars(select(Interview.session_id).where(
            Interview.session_id.is_not(None)).order_by(Interview.id)).first()
    client = console_client(app, "manager")
    r = client.post("/console/batch", data={"csrf_token": csrf_token(client, "/console/batch"),
                                            "step": "preview", "session_id": session_id,
                                            "reason_code": "system_failure"})
    html = r.get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    r = client.post("/console/batch/confirm", headers={"X-Request-Id": "batch-confirm-1"},
                    data={"csrf_token": CSRF_RE.search(html).group(1), "token": token})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(CancelBatch.status)).one().value == "queued"
        batch.run(db.session.scalars(select(CancelBatch.id)).one())  # as the worker does
        rows = db.session.scalars(select(OutboxMessage)).all()
        kinds = {m.kind for m in rows}
        assert "staff_batch_cancelled" in kinds and len(kinds) >= 2
        assert {m.request_id for m in rows} == {"batch-confirm-1"}
        trail = {(a.action, a.data.get("request_id")) for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(
                ["batch.created", "interview.cancelled", "batch.finished"])))}
        assert trail == {("batch.created", "batch-confirm-1"),
                         ("interview.cancelled", "batch-confirm-1"),
                         ("batch.finished", "batch-confirm-1")}


def test_the_workers_send_log_lines_carry_the_rows_request_id(app, client, caplog):
    r, interview_id, _ = _candidate_cancel(app, client, {"X-Request-Id": "trail-send-9"})
    with caplog.at_level(logging.INFO, logger="app.services.notifications.dispatch"):
        assert drain(app) >= 1
    lines = [rec for rec in caplog.records
             if rec.name == "app.services.notifications.dispatch"
             and getattr(rec, "outbox_id", None) is not None]
    with app.app_context():
        ids = set(db.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.interview_id == interview_id)))
    assert {rec.outbox_id for rec in lines} == ids
    for rec in lines:
        assert rec.request_id == "trail-send-9" and rec.interview_id == interview_id
        assert rec.worker_id and rec.status in ("sent", "failed", "unreachable", "retrying")
        assert "trail-send-9" in rec.getMessage()  # a grep finds it in text logs too


def test_an_integration_api_cancel_carries_its_request_id(app, client):
    from app.models import ReasonActor
    from app.services.integration import keys

    factories.cancel_reason(app, "position_filled", label="岗位已招满",
                            category="position_change", actor=ReasonActor.COMPANY)
    iv = factories.interview(app, "AI-2026-12-02-101", external_id="ext-trail-1")
    with app.app_context():
        secret = keys.create_key(name="ATS", scopes=["interviews:read", "interviews:write"],
                                 departments=[]).secret
    r = client.post("/api/integration/v1/interviews/ext-trail-1/cancel",
                    headers={**factories.bearer(secret), "X-Request-Id": "ats-call-5"},
                    json={"reason_code": "position_filled"})
    assert r.status_code == 200, r.get_json()
    assert r.headers["X-Request-Id"] == "ats-call-5"
    messages, _deliveries, audit = _rows(app, iv.id)
    assert messages and set(messages) == {"ats-call-5"} and audit == ["ats-call-5"]


def test_an_official_account_cancel_carries_its_callbacks_request_id(app, demo, live_url):
    from tests.wechat.oa_hr_helpers import hr_phone, plain

    public_id, number = plain(app, demo)
    reply = hr_phone(live_url, "specialist").send(f"取消 {number} 岗位已招满")
    assert f"已取消面试 {number}" in reply
    with app.app_context():
        interview_id = db.session.scalar(select(Interview.id).where(
            Interview.public_id == public_id))
    messages, _deliveries, audit = _rows(app, interview_id)
    # the callback's own id (the sandbox sends none): one id on all of them
    assert messages and len(set(messages) | set(audit)) == 1 and audit[0]


def test_the_webhook_post_and_its_log_line_carry_the_deliverys_request_id(app, client,
                                                                          caplog):
    import threading

    from werkzeug.serving import make_server

    from tests.webhooks.conftest import Receiver  # the webhook tests' receiver

    rec = Receiver()
    server = make_server("127.0.0.1", 0, rec.wsgi, threaded=True)
    rec.url = f"http://127.0.0.1:{server.port}/hooks/aiic"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        factories.cancel_reason(app, "time_conflict")
        factories.webhook_endpoint(app, rec.url)
        cand = factories.mp_candidate(app, openid="o-trail-hook")
        auth = mp_login(client, cand["openid"], bound=True)
        r = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                        headers={**auth, "Idempotency-Key": str(uuid.uuid4()),
                                 "X-Request-Id": "trail-hook-3"},
                        json={"reason_code": "time_conflict"})
        assert r.status_code == 200
        from app.services.webhooks import sender

        with caplog.at_level(logging.INFO, logger=sender.log.name), app.app_context():
            assert sender.dispatch_due("w-hooks") == 1
        [posted] = rec.requests
        assert posted.headers.get("X-Request-Id") == "trail-hook-3"
        [line] = [rec_ for rec_ in caplog.records if getattr(rec_, "delivery_id", None)]
        assert (line.request_id, line.status, line.worker_id) == ("trail-hook-3",
                                                                  "delivered", "w-hooks")
        assert "trail-hook-3" in line.getMessage()
    finally:
        server.shutdown()
        server.server_close()
