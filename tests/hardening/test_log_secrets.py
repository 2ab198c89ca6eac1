"""No secret, token, signature, nonce or open token in any log line (issue 12, section 5).

Real flows over real HTTP (so werkzeug's access lines, with their query strings, are
logged as in production) with every logger at DEBUG (urllib3 logs each WeChat call's URL,
`?access_token=` included): a mini-program login and cancel, the worker's sends, signed
and encrypted callbacks, the message-open page and API, a console login and an
integration API call. Every captured line is then scanned for every credential the run
used or saw.
"""
from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
import requests
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from app.core.log_redaction import REDACTED, configured_secrets, redact
from app.extensions import db
from app.jobs.worker import drain
from app.models import OutboxMessage
from tests.factories import API, CSRF_RE, DEMO_PASSWORD, bearer, mp_token

# A credential-bearing parameter whose value is not redacted.
LEAKY_PARAM = re.compile(r"(?i)[?&\s](access_token|signature|msg_signature|nonce|echostr|t|"
                         r"token|secret|js_code|password)=(?!\[REDACTED\])[^&\s\"']+")


def _lines(caplog) -> list[str]:
    out = []
    for record in caplog.records:
        out.append(record.getMessage())
        if record.exc_text:
            out.append(record.exc_text)
    return out


def _signature(token: str, *parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return signer.signature


def test_no_credential_reaches_any_log_line(app, demo, live_url, caplog, sandbox):
    caplog.set_level(logging.DEBUG)
    seen: set[str] = set(configured_secrets(app.config))
    http = requests.Session()

    # The candidate logs in, grants a subscription and cancels (mini-program API).
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    token = mp_token(live_url, cand["openid"], bound=True)
    seen.add(token)
    auth = bearer(token)
    tpl = http.get(f"{live_url}{API}/subscriptions/templates", headers=auth,
                   timeout=10).json()["template_ids"][0]
    sandbox.post("subscriptions", openid=cand["openid"], template_id=tpl)
    http.post(f"{live_url}{API}/subscriptions", headers=auth,
              json={"results": {tpl: "accept"}}, timeout=10)
    r = http.post(f"{live_url}{API}/interviews/{cand['interview_ids'][0]}/cancel",
                  headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
                  json={"reason_code": "time_conflict"}, timeout=10)
    assert r.status_code == 200, r.text

    # The worker sends through wechatpy to the sandbox (access tokens in every URL).
    drain(app)
    with app.app_context():
        open_tokens = [t for t in db.session.scalars(select(OutboxMessage.open_token)) if t]
    assert open_tokens
    seen.update(open_tokens)

    # The candidate opens the message: the SMS/e-mail page and the API report.
    assert http.get(f"{live_url}/m/open", params={"t": open_tokens[0]}, timeout=10
                    ).status_code == 200
    http.post(f"{live_url}{API}/notifications/{open_tokens[-1]}/open", headers=auth,
              timeout=10)

    # WeChat calls our callback: the URL check, then an encrypted event (safe mode).
    cfg = app.config
    timestamp, nonce, echostr = str(int(time.time())), "1357924680", "echo-" + uuid.uuid4().hex
    signature = _signature(cfg["WECHAT_OA_TOKEN"], timestamp, nonce)
    seen.update({signature, nonce, echostr})
    http.get(f"{live_url}/wechat/oa/callback", timeout=10,
             params={"signature": signature, "timestamp": timestamp, "nonce": nonce,
                     "echostr": echostr})
    crypto = WeChatCrypto(cfg["WECHAT_OA_TOKEN"], cfg["WECHAT_OA_AES_KEY"],
                          cfg["WECHAT_OA_APPID"])
    plain = (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA["
             f"{cand['openid']}]]></FromUserName><CreateTime>{timestamp}</CreateTime>"
             "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]>"
             "</Event><MsgID>1</MsgID><Status><![CDATA[success]]></Status></xml>")
    nonce2 = "2468013579"
    body = crypto.encrypt_message(plain, nonce2, timestamp)
    msg_signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", body).group(1)
    seen.update({msg_signature, nonce2, _signature(cfg["WECHAT_OA_TOKEN"], timestamp, nonce2)})
    http.post(f"{live_url}/wechat/oa/callback", data=body.encode(), timeout=10,
              params={"signature": _signature(cfg["WECHAT_OA_TOKEN"], timestamp, nonce2),
                      "timestamp": timestamp, "nonce": nonce2, "encrypt_type": "aes",
                      "msg_signature": msg_signature})

    # HR logs in to the console (the password and the session cookie).
    username = demo["hr_users"]["admin"]["username"]
    page = http.get(f"{live_url}/console/login", timeout=10).text
    http.post(f"{live_url}/console/login", timeout=30, data={
        "csrf_token": CSRF_RE.search(page).group(1), "username": username,
        "password": DEMO_PASSWORD})
    seen.add(DEMO_PASSWORD)
    seen.update(v for v in http.cookies.values() if len(v) > 8)

    # The ATS calls the integration API with its key.
    from app.services.integration import keys

    with app.app_context():
        created = keys.create_key(name="ATS", scopes=["interviews:read"])
        db.session.commit()
        api_key = created.secret
    seen.add(api_key)
    http.get(f"{live_url}/api/integration/v1/cancel-reasons", headers=bearer(api_key),
             timeout=10)
    # A wrong key, logged as a failure.
    http.get(f"{live_url}/api/integration/v1/cancel-reasons",
             headers=bearer(api_key + "x"), timeout=10)

    lines = _lines(caplog)
    assert any("/m/open?t=" + REDACTED in line for line in lines), \
        "the access log line of /m/open was not captured"
    assert any("access_token=" + REDACTED in line for line in lines), \
        "no WeChat call was logged (urllib3 at DEBUG)"
    for line in lines:
        for value in seen:
            assert value not in line, f"credential {value[:6]}... in log line: {line[:300]}"
        assert not LEAKY_PARAM.search(line), line[:300]
        assert not re.search(r"(?i)bearer\s+(?!\[REDACTED\])\S", line), line[:300]


@pytest.mark.parametrize("line, secret", [
    ('"GET /m/open?t=AbC123xyz HTTP/1.1" 200', "AbC123xyz"),
    ("POST /cgi-bin/message/subscribe/send?access_token=ACCESS_TOKEN_1 HTTP/1.1",
     "ACCESS_TOKEN_1"),
    ("headers={'Authorization': 'Bearer 7.s3cr3tt0ken'}", "s3cr3tt0ken"),
    ("GET /wechat/oa/callback?signature=abc&timestamp=1&nonce=424242&echostr=e1", "424242"),
    ('{"token": "7.abcdef", "code": "rate_limited"}', "7.abcdef"),
    ("POST /api/mp/v1/notifications/opentok_1/open HTTP/1.1", "opentok_1"),
    ("key aiik_live_0123456789 refused", "aiik_live_0123456789"),
    ("X-Signature: sha256=" + "ab" * 32, "ab" * 32),
])
def test_each_kind_of_credential_is_redacted(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and REDACTED in cleaned


def test_what_is_not_a_credential_stays_readable():
    line = 'POST /api/mp/v1/interviews/iv_1/cancel 429 {"code": "rate_limited"} errcode=40001'
    assert redact(line) == line
