"""Official Account web OAuth (snsapi_base), for the mobile console opened inside WeChat.

Two hosts, both configuration only: the authorize page the browser is sent to lives on
WECHAT_OAUTH_BASE_URL (open.weixin.qq.com; in development and tests, unset: the sandbox
at WECHAT_API_BASE), the code exchange goes to WECHAT_API_BASE like every other WeChat
call.

Traps:
- The exchange takes the OA's appid and secret in the query string: never log its URL.
- `#wechat_redirect` must end the authorize URL (WeChat ignores the request without it
  inside its browser); a fragment is not sent to servers, so it costs nothing elsewhere.
- A code is single use and lives 5 minutes; WeChat answers 40029 for a bad or expired
  code and 40163 for one already used: both mean "start again", never retry the code.
- snsapi_base gives the openid only (no nickname, no unionid guarantee): it is the OA
  openid, which is what hr_users.wechat_openid holds.
"""
from __future__ import annotations

from urllib.parse import urlencode

import requests
from flask import current_app
from wechatpy.exceptions import WeChatClientException

from app.wechat.client import WeChatUnavailable

SCOPE = "snsapi_base"


def authorize_url(redirect_uri: str, state: str) -> str:
    """WeChat's authorize page for the Official Account, coming back to redirect_uri with
    ?code=...&state=state."""
    cfg = current_app.config
    query = urlencode({"appid": cfg["WECHAT_OA_APPID"], "redirect_uri": redirect_uri,
                       "response_type": "code", "scope": SCOPE, "state": state})
    return (authorize_base().rstrip("/") + "/connect/oauth2/authorize?" + query
            + "#wechat_redirect")


def authorize_base() -> str:
    """WECHAT_OAUTH_BASE_URL; unset (development, tests) = the sandbox, which serves the
    authorize page beside the API it emulates at WECHAT_API_BASE."""
    cfg = current_app.config
    return cfg.get("WECHAT_OAUTH_BASE_URL") or cfg["WECHAT_API_BASE"]


def openid_for_code(code: str) -> str:
    """Exchange an OAuth code at /sns/oauth2/access_token for the user's OA openid.

    Raises WeChatClientException (WeChat's errcode: 40029, 40163 ...) or
    WeChatUnavailable (unreachable, timed out, an answer without an openid)."""
    cfg = current_app.config
    try:
        res = requests.get(
            cfg["WECHAT_API_BASE"].rstrip("/") + "/sns/oauth2/access_token",
            params={"appid": cfg["WECHAT_OA_APPID"], "secret": cfg["WECHAT_OA_SECRET"],
                    "code": code, "grant_type": "authorization_code"},
            timeout=cfg.get("WECHAT_HTTP_TIMEOUT", 5.0))
        result = res.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeChatUnavailable(type(exc).__name__) from None  # the URL holds the secret
    if not isinstance(result, dict):
        raise WeChatUnavailable("unexpected oauth2 answer")
    if result.get("errcode"):
        raise WeChatClientException(int(result["errcode"]), result.get("errmsg"),
                                    client=None, request=None, response=res)
    openid = result.get("openid")
    if res.status_code != 200 or not isinstance(openid, str) or not openid:
        raise WeChatUnavailable(f"unexpected oauth2 answer (HTTP {res.status_code})")
    return openid
