"""Official Account web OAuth as the sandbox speaks it (snsapi_base and snsapi_userinfo).

Two endpoints, on two hosts in the real platform:
- GET {WECHAT_OAUTH_BASE_URL}/connect/oauth2/authorize (open.weixin.qq.com): in WeChat's
  browser the user is sent straight back to redirect_uri?code=...&state=... . Here the
  sandbox's simulated WeChat user is who a test says: `sandbox_openid=` in the query
  (remembered in a cookie for later visits), else the cookie, else a page to pick an OA
  openid (a follower, or any typed one).
- GET {WECHAT_API_BASE}/sns/oauth2/access_token?appid&secret&code&grant_type=
  authorization_code: the code for the openid.

Traps, as on WeChat: a code is single use and lives 5 minutes of sandbox time (tests move
the clock with /clock); an unknown or expired code answers 40029, a used one 40163; the
state is handed back verbatim, checking it is the app's job.
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode, urlsplit

from flask import current_app, make_response, redirect, render_template_string, request

from app.wechat.sandbox import bp, state
from app.wechat.sandbox.responses import wx_error
from app.wechat.sandbox.routes import _app_of, _fault_answer, _secret_of, wechat_api

CODE_TTL = 300              # an OAuth code is valid 5 minutes
OPENID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATE_RE = re.compile(r"[A-Za-z0-9_-]{0,128}")
SCOPES = ("snsapi_base", "snsapi_userinfo")
COOKIE = "sandbox_oa_openid"


def _authorized_domain() -> str | None:
    """The OA's 网页授权域名: WeChat only sends codes to pages of that host. The sandbox's
    is PUBLIC_BASE_URL's host (a misconfigured PUBLIC_BASE_URL fails here, as it would at
    WeChat)."""
    return urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").hostname


def _cookie_path() -> str:
    return request.script_root + request.path.rsplit("/connect/", 1)[0]


@bp.get("/connect/oauth2/authorize")
def oauth_authorize():
    """The authorize page: check the request as WeChat does, then send the simulated user
    back with a fresh code (or ask who the user is)."""
    args = request.args
    if _app_of(args.get("appid")) != "oa":
        return _error_page("appid 参数错误", 40013)
    if args.get("response_type") != "code":
        return _error_page("response_type 参数错误", 10004)
    if args.get("scope") not in SCOPES:
        return _error_page("scope 参数错误或没有 scope 权限", 10005)
    redirect_uri = args.get("redirect_uri") or ""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _error_page("redirect_uri 参数错误", 10003)
    if parts.hostname != _authorized_domain():
        return _error_page("redirect_uri 域名与后台配置不一致", 10003)
    oauth_state = args.get("state", "")
    if not STATE_RE.fullmatch(oauth_state):
        return _error_page("state 参数错误", 10016)
    chosen = args.get("sandbox_openid")
    openid = chosen if chosen is not None else request.cookies.get(COOKIE)
    if not openid or not OPENID_RE.fullmatch(openid):
        others = {k: v for k, v in args.items() if k != "sandbox_openid"}
        return render_template_string(CHOOSE_PAGE, others=others, query=urlencode(others),
                                      typed=chosen or "",
                                      followers=state.users("oa"),
                                      invalid=chosen is not None)
    code = "sbx" + secrets.token_urlsafe(24)
    state.r().set(state.key("oauth-code", code),
                  state.dump({"openid": openid, "scope": args["scope"], "at": state.now()}),
                  ex=CODE_TTL + state.DAY)
    back = redirect_uri + ("&" if parts.query else "?") + urlencode(
        {"code": code, "state": oauth_state})
    response = make_response(redirect(back, 302))
    if chosen is not None:
        response.set_cookie(COOKIE, openid, path=_cookie_path(), httponly=True,
                            samesite="Lax")
    return response


@bp.get("/sns/oauth2/access_token")
@wechat_api("oauth2_access_token")
def oauth_access_token():
    """Exchange an authorize code for the user's openid (and a web access token)."""
    args = request.args
    app_name = _app_of(args.get("appid"))
    if app_name != "oa":
        return wx_error(40013)
    if args.get("secret") != _secret_of(app_name):
        return wx_error(40125)
    if args.get("grant_type") != "authorization_code":
        return wx_error(40002)
    code = args.get("code") or ""
    issued = state.load(state.r().get(state.key("oauth-code", code))) if code else None
    if issued is None or state.now() - issued["at"] > CODE_TTL:
        return wx_error(40029)
    answer = _fault_answer("oauth2_access_token", issued["openid"])
    if answer:
        return answer
    if not state.claim_once("oauth-code-used", code):
        return wx_error(40163)
    result = {"access_token": "sbxweb" + secrets.token_urlsafe(24), "expires_in": 7200,
              "refresh_token": "sbxrefresh" + secrets.token_urlsafe(24),
              "openid": issued["openid"], "scope": issued["scope"], "is_snapshotuser": 0}
    unionid = state.user_unionid("oa", issued["openid"])
    if unionid:
        result["unionid"] = unionid
    return result


def _error_page(message: str, errcode: int):
    """WeChat shows an error page (not JSON) when the authorize request is wrong."""
    return render_template_string(ERROR_PAGE, message=message, errcode=errcode,
                                  appid=current_app.config["WECHAT_OA_APPID"]), 400


_HEAD = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font-family:"WenQuanYi Micro Hei",sans-serif;margin:0;background:#ededed;color:#111}
main{max-width:480px;margin:0 auto;padding:24px 16px}h1{font-size:18px}
.card{background:#fff;border-radius:8px;padding:16px;margin:12px 0}
a.user,button{display:block;width:100%;box-sizing:border-box;padding:12px;margin:8px 0;
border:0;border-radius:6px;background:#07c160;color:#fff;font-size:16px;text-align:center;
text-decoration:none}input{width:100%;box-sizing:border-box;padding:10px;font-size:16px}
.muted{color:#888;font-size:13px}.error{color:#fa5151}</style></head><body><main>"""

CHOOSE_PAGE = _HEAD.replace("{{ title }}", "微信授权（沙箱）") + """
<h1>微信授权（沙箱）</h1>
<p class="muted">真实微信会直接带回当前微信用户的 openid；沙箱请选择以哪位公众号用户的身份继续。</p>
<div class="card">
{% for f in followers %}
<a class="user" href="?{{ query }}&amp;sandbox_openid={{ f.openid | urlencode }}">{{ f.openid }}</a>
{% else %}<p class="muted">沙箱里还没有公众号关注者。</p>{% endfor %}
</div>
<form method="get" class="card">
{% for name, value in others.items() %}
<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<label for="sandbox_openid">或输入公众号 openid</label>
<input id="sandbox_openid" name="sandbox_openid" value="{{ typed }}" maxlength="64">
{% if invalid %}
<p class="error">openid 只能包含字母、数字、下划线和短横线（最多64位）</p>{% endif %}
<button type="submit">以此身份授权</button>
</form></main></body></html>"""

ERROR_PAGE = _HEAD.replace("{{ title }}", "微信授权错误") + """
<h1>Oops! Something went wrong:(</h1>
<div class="card"><p class="error">{{ message }}</p>
<p class="muted">错误码 {{ errcode }} · appid {{ appid }}</p></div></main></body></html>"""
