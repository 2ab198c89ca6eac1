"""WeChat as the sender of callbacks, for tests: XML built as WeChat builds it, encrypted
and signed with wechatpy's WeChatCrypto (safe mode) or signed only (plain), posted to
our callback through the Flask test client. Any part can be forged on purpose.
"""
from __future__ import annotations

import secrets
import time

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

KEYS = {"oa": ("WECHAT_OA_TOKEN", "WECHAT_OA_AES_KEY", "WECHAT_OA_APPID"),
        "mp": ("WECHAT_MP_TOKEN", "WECHAT_MP_AES_KEY", "WECHAT_MP_APPID")}


def cdata(value: object) -> str:
    return "<![CDATA[" + str(value) + "]]>"


def event(openid: str, name: str, body: str = "", create_time: int | None = None,
          to: str = "gh_test") -> str:
    """An event's plaintext XML as WeChat sends it."""
    return (f"<xml><ToUserName>{cdata(to)}</ToUserName>"
            f"<FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            f"<MsgType>{cdata('event')}</MsgType><Event>{cdata(name)}</Event>{body}</xml>")


def template_finished(openid: str, msgid: object, status: str = "success", **kw) -> str:
    return event(openid, "TEMPLATESENDJOBFINISH",
                 f"<MsgID>{msgid}</MsgID><Status>{cdata(status)}</Status>", **kw)


def subscribe_sent(openid: str, items: list[tuple[str, object, int, str]], **kw) -> str:
    """items: (template_id, msgid, error_code, error_status)."""
    body = "".join(f"<List><TemplateId>{cdata(t)}</TemplateId><MsgID>{m}</MsgID>"
                   f"<ErrorCode>{c}</ErrorCode><ErrorStatus>{cdata(s)}</ErrorStatus></List>"
                   for t, m, c, s in items)
    return event(openid, "subscribe_msg_sent_event",
                 f"<SubscribeMsgSentEvent>{body}</SubscribeMsgSentEvent>", **kw)


def subscribe_popup(openid: str, results: dict[str, str], **kw) -> str:
    body = "".join(f"<List><TemplateId>{cdata(t)}</TemplateId>"
                   f"<SubscribeStatusString>{cdata(r)}</SubscribeStatusString>"
                   f"<PopupScene>0</PopupScene></List>" for t, r in results.items())
    return event(openid, "subscribe_msg_popup_event",
                 f"<SubscribeMsgPopupEvent>{body}</SubscribeMsgPopupEvent>", **kw)


def subscribe_change(openid: str, results: dict[str, str], **kw) -> str:
    body = "".join(f"<List><TemplateId>{cdata(t)}</TemplateId>"
                   f"<SubscribeStatusString>{cdata(r)}</SubscribeStatusString></List>"
                   for t, r in results.items())
    return event(openid, "subscribe_msg_change_event",
                 f"<SubscribeMsgChangeEvent>{body}</SubscribeMsgChangeEvent>", **kw)


class Sender:
    """Posts callbacks to one app's URL as WeChat would (or as a forger would)."""

    def __init__(self, flask_app, client, app_name: str):
        cfg = flask_app.config
        token_key, aes_key, appid_key = KEYS[app_name]
        self.app_name, self.client = app_name, client
        self.token, self.aes_key, self.appid = cfg[token_key], cfg[aes_key], cfg[appid_key]
        self.url = f"/wechat/{app_name}/callback"

    def signature(self, timestamp: str, nonce: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        return signer.signature

    def encrypted(self, plaintext: str, timestamp: str | None = None,
                  nonce: str | None = None) -> tuple[dict, str]:
        """(query, body) of a safe-mode push: WeChatCrypto encrypts and signs."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
        envelope = xmltodict.parse(crypto.encrypt_message(plaintext, nonce, timestamp))["xml"]
        query = {"signature": self.signature(timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": "o-sender", "encrypt_type": "aes",
                 "msg_signature": envelope["MsgSignature"]}
        body = (f"<xml><ToUserName>{cdata('gh_test')}</ToUserName>"
                f"<Encrypt>{cdata(envelope['Encrypt'])}</Encrypt></xml>")
        return query, body

    def plain(self, plaintext: str, timestamp: str | None = None,
              nonce: str | None = None) -> tuple[dict, str]:
        """(query, body) of a plain-mode push: the signature covers no body."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        return {"signature": self.signature(timestamp, nonce), "timestamp": timestamp,
                "nonce": nonce, "openid": "o-sender"}, plaintext

    def post(self, query: dict, body: str | bytes):
        return self.client.post(self.url, query_string=query, data=body,
                                content_type="text/xml")

    def send(self, plaintext: str, **kw):
        """Encrypted push of `plaintext` (the default safe mode)."""
        return self.post(*self.encrypted(plaintext, **kw))
