"""The callbacks accept what WeChat sends and nothing else (issue 10 §1).

Each refusal is checked with the database unchanged: outbox rows, subscription credits
and WeChat accounts are compared before and after.
"""
from __future__ import annotations

import socket
import time
from urllib.parse import urlencode, urlparse

import pytest
from sqlalchemy import select
from wechat_sender import Sender, subscribe_popup, template_finished

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus, Subscription, WechatAccount
from config.settings import ConfigError
from wechat_handlers import parsing, security
from wechat_handlers.views import HANDLERS

TPL = "tpl-interview-cancelled"
BOMB = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
        ']><xml><ToUserName>gh_x</ToUserName><FromUserName>oa-hr</FromUserName>'
        '<CreateTime>{ts}</CreateTime><MsgType>event</MsgType>'
        '<Event>TEMPLATESENDJOBFINISH</Event><MsgID>9001</MsgID><Status>&c;</Status></xml>')


def _snapshot(flask_app) -> tuple:
    with flask_app.app_context():
        rows = tuple(db.session.execute(select(
            OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error,
            OutboxMessage.errcode, OutboxMessage.delivered_at).order_by(OutboxMessage.id)))
        subs = tuple(db.session.execute(select(
            Subscription.openid, Subscription.template_id, Subscription.credits,
            Subscription.last_result).order_by(Subscription.id)))
        accounts = tuple(db.session.execute(select(
            WechatAccount.app, WechatAccount.openid, WechatAccount.followed,
            WechatAccount.unionid).order_by(WechatAccount.id)))
        db.session.rollback()
    return rows, subs, accounts


@pytest.fixture
def oa(app, client):
    return Sender(app, client, "oa")


@pytest.fixture
def mp(app, client):
    return Sender(app, client, "mp")


@pytest.fixture
def oa_row(app, make_outbox):
    """An OA template message WeChat accepted (msgid 9001), not delivered yet."""
    return make_outbox(app="oa", channel="oa_template", touser="oa-hr",
                       recipient_type="hr_user", template_id="oa-tpl", msgid="9001")


@pytest.fixture
def handled(monkeypatch):
    """Every handler call, recorded (the handlers still run)."""
    calls = []
    for key, handlers in HANDLERS.items():
        def wrap(handler, key=key):
            def recording(raw, xml):
                calls.append(key)
                return handler(raw, xml)
            return recording
        monkeypatch.setitem(HANDLERS, key, [wrap(h) for h in handlers])
    return calls


# --- signatures and the encryption mode ---------------------------------------------------

def test_a_genuine_encrypted_delivery_is_applied(app, oa, oa_row):
    res = oa.send(template_finished("oa-hr", 9001, "failed:user block"))
    assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    with app.app_context():
        assert db.session.get(OutboxMessage, oa_row).last_error == "用户拒收消息"


def test_a_push_labelled_as_a_form_still_reaches_the_pipeline_whole(app, client, oa, oa_row):
    """The callbacks read their own body: no earlier hook parses it as a form first."""
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    res = client.post(oa.url, query_string=query, data=body,
                      content_type="application/x-www-form-urlencoded")
    assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    with app.app_context():
        assert db.session.get(OutboxMessage, oa_row).last_error == "用户拒收消息"


def test_forged_msg_signature_is_refused_and_changes_nothing(app, oa, oa_row, handled):
    before = _snapshot(app)
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    query["msg_signature"] = "0" * 40
    res = oa.post(query, body)
    assert res.status_code == 403 and res.json["error"]["code"] == "invalid_signature"
    assert handled == [] and _snapshot(app) == before


def test_ciphertext_swapped_under_a_valid_signature_is_refused(app, oa, oa_row, handled):
    before = _snapshot(app)
    query, _ = oa.encrypted(template_finished("oa-hr", 9001, "success"))
    _, other = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    assert oa.post(query, other).status_code == 403
    assert handled == [] and _snapshot(app) == before


def test_plaintext_with_a_copied_url_signature_is_refused_in_safe_mode(app, oa, oa_row,
                                                                         handled):
    """The reported attack: signature, timestamp and nonce copied from a logged safe-mode
    URL (valid: they cover no body) carrying a forged plaintext body."""
    before = _snapshot(app)
    logged, _ = oa.encrypted(template_finished("oa-hr", 1, "success"))
    forged = {k: logged[k] for k in ("signature", "timestamp", "nonce")}
    res = oa.post(forged, template_finished("oa-hr", 9001, "failed:user block"))
    assert res.status_code == 403 and res.json["error"]["code"] == "plaintext_refused"
    assert handled == [] and _snapshot(app) == before
    with app.app_context():
        assert db.session.get(OutboxMessage, oa_row).status == OutboxStatus.SENT


def test_compatible_mode_takes_plaintext_only_with_its_signature(app, oa, oa_row, handled):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    before = _snapshot(app)
    query, body = oa.plain(template_finished("oa-hr", 9001, "failed:user block"))
    bad = dict(query, signature="0" * 40)
    assert oa.post(bad, body).status_code == 403
    assert handled == [] and _snapshot(app) == before
    assert oa.post(query, body).status_code == 200
    with app.app_context():
        assert db.session.get(OutboxMessage, oa_row).status == OutboxStatus.FAILED


def test_compatible_mode_still_checks_msg_signature_of_encrypted_bodies(app, oa, oa_row):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    before = _snapshot(app)
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    assert oa.post(dict(query, msg_signature="1" * 40), body).status_code == 403
    assert _snapshot(app) == before


def test_plain_mode_refuses_encrypted_bodies(app, oa, oa_row):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "plain"
    before = _snapshot(app)
    res = oa.post(*oa.encrypted(template_finished("oa-hr", 9001, "failed:user block")))
    assert res.status_code == 403 and res.json["error"]["code"] == "encryption_not_configured"
    assert _snapshot(app) == before


def test_the_other_apps_key_is_refused(app, client, oa_row):
    mp_sender = Sender(app, client, "mp")
    mp_sender.url = "/wechat/oa/callback"
    before = _snapshot(app)
    res = mp_sender.send(template_finished("oa-hr", 9001, "failed:user block"))
    assert res.status_code == 403 and _snapshot(app) == before


@pytest.mark.parametrize("mode, has_key, problem", [
    ("secret", True, "must be one of"),
    ("safe", False, "needs WECHAT_OA_AES_KEY"),
    ("compatible", False, "needs WECHAT_OA_AES_KEY"),
])
def test_configuration_refuses_unknown_modes_and_modes_without_a_key(backend, mode, has_key,
                                                                    problem):
    cfg = backend.config(WECHAT_OA_ENCRYPT_MODE=mode)
    if not has_key:
        cfg.WECHAT_OA_AES_KEY = None
    with pytest.raises(ConfigError, match=problem):
        cfg.validate()


def test_mode_defaults_to_safe_with_a_key_and_plain_without(backend):
    from app.wechat.callbacks import encrypt_mode

    assert encrypt_mode({"WECHAT_OA_AES_KEY": "k" * 43}, "oa") == "safe"
    assert encrypt_mode({"WECHAT_OA_AES_KEY": None}, "oa") == "plain"
    assert encrypt_mode({"WECHAT_MP_AES_KEY": "k", "WECHAT_MP_ENCRYPT_MODE": "Compatible"},
                        "mp") == "compatible"


def test_dedupe_window_must_outlast_the_timestamp_window(backend):
    cfg = backend.config(WECHAT_CALLBACK_DEDUPE_SECONDS=300)
    with pytest.raises(ConfigError, match="DEDUPE"):
        cfg.validate()


# --- timestamps and replays -------------------------------------------------------------

@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_timestamp_outside_five_minutes_is_refused(app, oa, oa_row, handled, offset):
    before = _snapshot(app)
    res = oa.send(template_finished("oa-hr", 9001, "failed:user block"),
                  timestamp=str(int(time.time()) + offset))
    assert res.status_code == 403 and res.json["error"]["code"] == "stale_timestamp"
    assert handled == [] and _snapshot(app) == before


def test_timestamp_inside_the_window_is_accepted(app, oa, oa_row):
    res = oa.send(template_finished("oa-hr", 9001), timestamp=str(int(time.time()) - 290))
    assert res.status_code == 200


@pytest.mark.parametrize("timestamp", ["", "yesterday", "1e9"])
def test_missing_or_malformed_timestamp_is_refused(app, oa, oa_row, timestamp):
    before = _snapshot(app)
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    res = oa.post(dict(query, timestamp=timestamp), body)
    assert res.status_code == 403 and _snapshot(app) == before


def test_stale_echostr_check_is_refused(app, client, oa):
    ts = str(int(time.time()) - 600)
    res = client.get(oa.url, query_string={"signature": oa.signature(ts, "1"),
                                           "timestamp": ts, "nonce": "1", "echostr": "e"})
    assert res.status_code == 403 and "e" != res.get_data(as_text=True)


def test_replayed_request_is_handled_once(app, mp, handled):
    """A popup accept grants one credit; the same request again grants none."""
    query, body = mp.encrypted(subscribe_popup("o-cand", {TPL: "accept"}))
    assert mp.post(query, body).status_code == 200
    after_first = _snapshot(app)
    for _ in range(3):
        res = mp.post(query, body)
        assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    assert _snapshot(app) == after_first
    assert handled == [("mp", "subscribe_msg_popup_event")]
    with app.app_context():
        assert db.session.scalar(select(Subscription.credits)) == 1


def test_replay_after_the_timestamp_window_is_refused(app, mp, monkeypatch, handled):
    """Once the dedupe mark is gone (it outlasts the window), the stale timestamp still
    refuses the replay."""
    from app.extensions import redis_store

    query, body = mp.encrypted(subscribe_popup("o-cand", {TPL: "accept"}))
    assert mp.post(query, body).status_code == 200
    before = _snapshot(app)
    with app.app_context():
        for key in redis_store.client.scan_iter(redis_store.key("wechat", "callback-seen", "*")):
            redis_store.client.delete(key)
    later = time.time() + 301
    monkeypatch.setattr(security, "now", lambda: later)
    res = mp.post(query, body)
    assert res.status_code == 403 and res.json["error"]["code"] == "stale_timestamp"
    assert _snapshot(app) == before and len(handled) == 1


# --- bodies -----------------------------------------------------------------------------

def test_declared_oversized_body_is_413_before_reading(app, oa, oa_row, monkeypatch):
    monkeypatch.setattr(parsing, "parse_xml", lambda *a: pytest.fail("parsed"))
    before = _snapshot(app)
    query, _ = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    res = oa.post(query, b"<xml>" + b"x" * (300 * 1024) + b"</xml>")
    assert res.status_code == 413 and _snapshot(app) == before


def _chunked_post(live_url: str, path: str, query: dict, total: int) -> tuple[int, int]:
    """POST `total` bytes with Transfer-Encoding: chunked over a raw socket; (HTTP status
    of the answer, bytes actually sent before it came)."""
    url = urlparse(live_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall((f"POST {path}?{urlencode(query)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                  "Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n"
                  "Connection: close\r\n\r\n").encode())
    chunk = b"<xml>" + b"y" * (64 * 1024 - 5)
    sent = 0
    sock.settimeout(0.0)
    try:
        while sent < total:
            try:
                answer = sock.recv(64)
                if answer:
                    return int(answer.split()[1]), sent
            except BlockingIOError:
                pass
            sock.settimeout(5)
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.settimeout(0.0)
            sent += len(chunk)
        sock.sendall(b"0\r\n\r\n")
        sock.settimeout(10)
        return int(sock.recv(64).split()[1]), sent
    except (BrokenPipeError, ConnectionResetError):
        sock.settimeout(2)
        try:
            answer = sock.recv(64)
        except OSError:
            answer = b""
        return (int(answer.split()[1]) if answer else 0), sent
    finally:
        sock.close()


def test_oversized_chunked_body_is_413_and_not_read_whole(app, live_url, oa, oa_row,
                                                          monkeypatch):
    monkeypatch.setattr(parsing, "parse_xml", lambda *a: pytest.fail("parsed"))
    before = _snapshot(app)
    query, _ = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    status, sent = _chunked_post(live_url, oa.url, query, total=64 * 1024 * 1024)
    assert status == 413
    assert sent < 16 * 1024 * 1024  # answered long before the 64 MB were sent
    assert _snapshot(app) == before


def test_small_chunked_body_is_accepted(app, live_url, oa, oa_row):
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    url = urlparse(live_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        data = body.encode()
        sock.sendall((f"POST {oa.url}?{urlencode(query)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
                     + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        assert sock.recv(64).split()[1] == b"200"
    with app.app_context():
        assert db.session.get(OutboxMessage, oa_row).status == OutboxStatus.FAILED


def test_entity_expansion_in_a_compatible_plaintext_body_is_refused(app, oa, oa_row,
                                                                     handled):
    app.config["WECHAT_OA_ENCRYPT_MODE"] = "compatible"
    before = _snapshot(app)
    res = oa.post(*oa.plain(BOMB.format(ts=int(time.time()))))
    assert res.status_code == 400 and res.json["error"]["code"] == "bad_xml"
    assert handled == [] and _snapshot(app) == before


def test_entity_expansion_inside_the_ciphertext_is_refused(app, oa, oa_row, handled):
    before = _snapshot(app)
    res = oa.send(BOMB.format(ts=int(time.time())))
    assert res.status_code == 400 and res.json["error"]["code"] == "bad_xml"
    assert handled == [] and _snapshot(app) == before


def test_entity_expansion_in_the_envelope_is_refused(app, oa, oa_row, handled):
    before = _snapshot(app)
    query, body = oa.encrypted(template_finished("oa-hr", 9001, "failed:user block"))
    bomb_envelope = '<!DOCTYPE xml [<!ENTITY e "x">]>' + body
    res = oa.post(query, bomb_envelope)
    assert res.status_code == 400 and handled == [] and _snapshot(app) == before


@pytest.mark.parametrize("body", ["not xml", "<xml></xml>", "<xml><Encrypt></Encrypt></xml>",
                                  "<other><Encrypt>abc</Encrypt></other>"])
def test_malformed_envelopes_are_400(app, oa, oa_row, body):
    query, _ = oa.encrypted(template_finished("oa-hr", 9001))
    before = _snapshot(app)
    assert oa.post(query, body).status_code in (400, 403)
    assert _snapshot(app) == before


# --- delivery events and other channels' rows ---------------------------------------------

@pytest.mark.parametrize("wechat_app, channel", [(None, "sms"), (None, "email"),
                                                 ("mp", "subscribe")])
def test_oa_delivery_event_naming_another_channels_row_is_ignored(app, oa, make_outbox,
                                                                  wechat_app, channel):
    """The SMS serial number (or e-mail id, or a mini-program MsgID) equals the MsgID of
    the event, and the address equals its FromUserName: still not this event's row."""
    row_id = make_outbox(app=wechat_app, channel=channel, touser="oa-hr", msgid="9001")
    before = _snapshot(app)
    res = oa.send(template_finished("oa-hr", 9001, "failed:user block"))
    assert res.status_code == 200 and res.get_data(as_text=True) == "success"
    assert _snapshot(app) == before
    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).status == OutboxStatus.SENT


@pytest.mark.parametrize("wechat_app, channel", [(None, "sms"), ("oa", "oa_template")])
def test_mp_delivery_event_naming_another_channels_row_is_ignored(app, mp, make_outbox,
                                                                  wechat_app, channel):
    from wechat_sender import subscribe_sent

    row_id = make_outbox(app=wechat_app, channel=channel, touser="o-cand", msgid="9002",
                         template_id=TPL)
    before = _snapshot(app)
    res = mp.send(subscribe_sent("o-cand", [(TPL, 9002, 10005, "failed:user block")]))
    assert res.status_code == 200 and _snapshot(app) == before
    with app.app_context():
        assert db.session.get(OutboxMessage, row_id).status == OutboxStatus.SENT


def test_unknown_message_types_answer_success(app, oa, mp):
    from wechat_sender import event

    assert oa.send(event("oa-x", "some_future_event")).get_data(as_text=True) == "success"
    xml = ("<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>"
           f"{int(time.time())}</CreateTime><MsgType>shortvideo</MsgType><MsgId>77</MsgId></xml>")
    assert mp.send(xml).get_data(as_text=True) == "success"


def test_refusals_never_log_the_query(app, oa, caplog):
    query, body = oa.encrypted(template_finished("oa-hr", 9001))
    forged = dict(query, msg_signature="f" * 40)
    with caplog.at_level("DEBUG"):
        oa.post(forged, body)
        oa.post(dict(query, timestamp="1"), body)
        oa.post({k: query[k] for k in ("signature", "timestamp", "nonce")}, body)
    logged = caplog.text
    for value in (query["signature"], query["msg_signature"], query["nonce"], "f" * 40):
        assert value not in logged


def test_handling_slower_than_the_budget_is_logged(app, oa, oa_row, monkeypatch, caplog):
    from wechat_handlers import views

    monkeypatch.setattr(views, "SLOW_SECONDS", -1.0)
    with caplog.at_level("WARNING"):
        assert oa.send(template_finished("oa-hr", 9001)).status_code == 200
    assert "templatesendjobfinish took" in caplog.text
