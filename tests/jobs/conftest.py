"""Fixtures for the notification pipeline: queue one message for a demo candidate."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Interview, OutboxMessage, Subscription, WechatAccount, WechatApp
from app.services.notifications import outbox
from tests import factories


@pytest.fixture
def queue(app, demo, sandbox):
    """queue(kind=..., credit=True, follow_oa=False, phone=True, email=True) -> row id."""
    cand = next(c for c in demo["candidates"] if not c["position_review"])

    def make(kind="candidate_cancel_confirmed", *, credit=True, follow_oa=False, phone=True,
             email=True, recipient="candidate", recipient_id=None):
        with app.app_context():
            iv = db.session.scalars(select(Interview).where(
                Interview.public_id == cand["interview_ids"][0])).one()
            tpl = app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
            if credit:
                sandbox.post("subscriptions", openid=cand["openid"], template_id=tpl)
                sub = db.session.scalars(select(Subscription).where(
                    Subscription.openid == cand["openid"])).first()
                if sub is None:
                    db.session.add(Subscription(openid=cand["openid"], template_id=tpl,
                                                last_result="accept", credits=1))
                else:
                    sub.credits += 1
            if follow_oa:
                oa_openid = "oa-" + cand["openid"]
                unionid = f"sandbox-union-{cand['openid']}"
                sandbox.post("followers", openid=oa_openid, unionid=unionid)
                db.session.add(WechatAccount(app=WechatApp.OFFICIAL_ACCOUNT, openid=oa_openid,
                                             unionid=f"sandbox-union-{cand['openid']}",
                                             followed=True))
            if not phone:
                iv.candidate.phone = None
            if not email:
                iv.candidate.email = None
            n = db.session.scalar(select(db.func.count()).select_from(OutboxMessage))
            row = outbox.enqueue(event=f"test:{kind}:{n}",
                                 kind=kind, recipient_type=recipient,
                                 recipient_id=recipient_id or iv.candidate_id, interview=iv,
                                 context=outbox.interview_context(iv, reason_label="时间冲突"))
            db.session.commit()
            return row.id
    make.candidate = cand
    return make


@pytest.fixture
def row(app):
    """row(row_id) -> a detached snapshot of that outbox row."""
    def get(row_id):
        return factories.detached(app, OutboxMessage, row_id)
    return get


@pytest.fixture
def smtp_server():
    """Factory: a real SMTP server (aiosmtpd) on a free port recording what it receives."""
    import socket

    from aiosmtpd.controller import Controller

    class Recorder:
        def __init__(self):
            self.received = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append({"rcpt_tos": list(envelope.rcpt_tos),
                                  "content": envelope.content})
            return "250 OK"

    started = []

    def start():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        handler = Recorder()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        handler.port = port
        return handler

    yield start
    for controller in started:
        controller.stop()
