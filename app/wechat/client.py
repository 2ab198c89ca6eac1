"""wechatpy client factory.

Points at WeChat or at the sandbox by configuration only (WECHAT_API_BASE), overriding the
three places wechatpy 1.8.18 hard-codes the host. The access token lives in Redis (shared
by every process) and is fetched through /cgi-bin/stable_token. wechatpy's own
auto_retry is off (it retries without bound); `call()` refreshes the token a bounded
number of times instead.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from app.extensions import redis_store

log = logging.getLogger(__name__)

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatUnavailable(Exception):
    """WeChat (or the sandbox) could not be reached or timed out."""


class ConfigurableWeChatClient(WeChatClient):
    """WeChatClient whose every URL derives from one base URL."""

    def __init__(self, appid: str, secret: str, api_base: str, session, timeout: float):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        # 1) the client's own base (keep the /cgi-bin/ suffix)
        self.API_BASE_URL = self.api_base + "/cgi-bin/"
        # 2) WeChatWxa has its own base
        self.wxa.API_BASE_URL = self.api_base + "/"
        # Proxy settings read once, not scanned from the environment on every request.
        self._http.proxies = requests.utils.get_environ_proxies(self.api_base)
        self._http.trust_env = False
        self._memory_token: str | None = None
        self._memory_until = 0.0

    # 3) the URL literal inside fetch_access_token: replaced by stable_token
    def fetch_access_token(self, force_refresh: bool = False) -> dict:
        lock = redis_store.client.lock(redis_store.key("wechat", "token-lock", self.appid),
                                       timeout=10, blocking_timeout=10)
        with lock:
            if not force_refresh:
                cached = self.session.get(self.access_token_key)
                if cached:
                    self.expires_at = int(time.time()) + 300
                    return {"access_token": cached}
            try:
                res = self._http.post(
                    self.api_base + "/cgi-bin/stable_token",
                    json={"grant_type": "client_credential", "appid": self.appid,
                          "secret": self.secret, "force_refresh": force_refresh},
                    timeout=self.timeout)
                result = res.json()
            except (requests.RequestException, ValueError) as exc:
                raise WeChatUnavailable(str(exc)) from exc
            if result.get("errcode"):
                raise WeChatClientException(result["errcode"], result.get("errmsg"),
                                            client=self, request=None, response=res)
            if res.status_code != 200 or not result.get("access_token"):
                raise WeChatUnavailable(f"unexpected token answer (HTTP {res.status_code})")
            expires_in = int(result.get("expires_in", 7200))
            # keep a safety margin so no process uses a token in its last minutes
            self.session.set(self.access_token_key, result["access_token"],
                             max(expires_in - 300, 60))
            self.expires_at = int(time.time()) + expires_in
            return result

    # The token is shared through Redis; each client also keeps it in memory for a few
    # seconds so a busy worker does not read Redis before every send.
    MEMORY_SECONDS = 15

    @property
    def access_token(self):
        now = time.monotonic()
        if self._memory_token and now < self._memory_until:
            return self._memory_token
        token = WeChatClient.access_token.fget(self)
        self._memory_token, self._memory_until = token, now + self.MEMORY_SECONDS
        return token

    def forget_token(self) -> None:
        self._memory_token = None
        self.session.delete(self.access_token_key)

    def call(self, fn: Callable[[ConfigurableWeChatClient], Any]) -> Any:
        """Run one API call, refreshing the token at most WECHAT_TOKEN_RETRIES times."""
        retries = current_app.config.get("WECHAT_TOKEN_RETRIES", 1)
        attempt = 0
        while True:
            try:
                return fn(self)
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRCODES and attempt < retries:
                    attempt += 1
                    log.info("wechat token rejected (%s), refreshing (attempt %d)",
                             exc.errcode, attempt)
                    self.forget_token()
                    self.fetch_access_token(force_refresh=True)
                    continue
                if exc.errcode is None:
                    raise WeChatUnavailable(str(exc)) from exc
                raise
            except requests.RequestException as exc:
                raise WeChatUnavailable(str(exc)) from exc


def _client(appid_key: str, secret_key: str) -> ConfigurableWeChatClient:
    """One client per app, base URL and thread: building a wechatpy client is costly
    (it instantiates every API class), and requests sessions are not shared by threads."""
    cfg = current_app.config
    key = (appid_key, cfg[appid_key], cfg["WECHAT_API_BASE"], cfg.get("WECHAT_HTTP_TIMEOUT"),
           redis_store.prefix)
    cache = current_app.extensions.setdefault("wechat_clients", threading.local())
    clients = cache.__dict__.setdefault("clients", {})
    client = clients.get(key)
    if client is None:
        storage = RedisStorage(redis_store.client, prefix=redis_store.key("wechatpy"))
        client = ConfigurableWeChatClient(cfg[appid_key], cfg[secret_key],
                                          cfg["WECHAT_API_BASE"], storage,
                                          cfg.get("WECHAT_HTTP_TIMEOUT", 5.0))
        clients[key] = client
    return client


def mini_program_client() -> ConfigurableWeChatClient:
    return _client("WECHAT_MP_APPID", "WECHAT_MP_SECRET")


def official_account_client() -> ConfigurableWeChatClient:
    return _client("WECHAT_OA_APPID", "WECHAT_OA_SECRET")


def code_to_session(js_code: str) -> dict:
    """sns/jscode2session with appid/secret directly (no access token needed, see WECHAT.md).

    Returns WeChat's JSON (openid, session_key, unionid?) or raises WeChatClientException.
    """
    cfg = current_app.config
    try:
        res = requests.get(
            cfg["WECHAT_API_BASE"].rstrip("/") + "/sns/jscode2session",
            params={"appid": cfg["WECHAT_MP_APPID"], "secret": cfg["WECHAT_MP_SECRET"],
                    "js_code": js_code, "grant_type": "authorization_code"},
            timeout=cfg.get("WECHAT_HTTP_TIMEOUT", 5.0))
        result = res.json()
    except (requests.RequestException, ValueError) as exc:
        raise WeChatUnavailable(str(exc)) from exc
    if result.get("errcode"):
        raise WeChatClientException(int(result["errcode"]), result.get("errmsg"),
                                    client=None, request=None, response=res)
    if res.status_code != 200 or not result.get("openid") or not result.get("session_key"):
        raise WeChatUnavailable(f"unexpected code2session answer (HTTP {res.status_code})")
    return result
