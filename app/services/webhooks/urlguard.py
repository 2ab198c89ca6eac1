"""Where webhooks may go: https in production, and (SSRF guard) never to a host that
resolves to a private, loopback, link-local or otherwise non-public address unless
WEBHOOK_ALLOW_PRIVATE_HOSTS is true (development and testing by default).

The guard runs when an endpoint is registered or changed (endpoints.py) and again at every
send (sender.py): a name that resolved to a public address yesterday may point inside the
network today. At send time the address actually connected to is checked too (the
connection classes below), so a DNS answer that changes between the check and the connect
(rebinding) reaches nothing either. Through an egress proxy (HTTPS_PROXY) the socket
goes to the proxy, so there only the resolution check applies; the proxy's own rules do
the rest.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError


def private_hosts_allowed() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_HOSTS", False))


def https_required() -> bool:
    return current_app.config.get("ENV_NAME") == "production"


def is_public(address: str) -> bool:
    """Whether an IP address is one the public internet routes (IPv4-mapped IPv6 is judged
    by its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class HostRefused(Exception):
    """The host cannot be resolved, or resolves to an address the guard refuses."""

    def __init__(self, message: str, code: str, addresses: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.addresses = addresses or []


def check_host(host: str, port: int | None) -> None:
    """Raise HostRefused unless every address `host` resolves to is public (nothing is
    checked when private hosts are allowed)."""
    if private_hosts_allowed():
        return
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostRefused(f"无法解析主机名 {host}", "webhook_host_unresolvable") from None
    refused = sorted({info[4][0] for info in infos if not is_public(info[4][0])})
    if refused:
        raise HostRefused(f"该地址指向内网、本机或链路本地地址（{', '.join(refused)}），"
                          "出于安全原因不允许", "webhook_private_host", refused)


def check_url_host(url: str) -> None:
    """check_host for a URL's host and port."""
    parsed = urlparse(url)
    check_host(parsed.hostname or "", parsed.port)


# --- send time: check the address the socket actually connected to ----------------------

def _check_peer(connection, sock) -> None:
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise NewConnectionError(connection, f"refused non-public address {peer} "
                                             "(WEBHOOK_ALLOW_PRIVATE_HOSTS is off)")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse non-public peer addresses."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool,
                                                   "https": _GuardedHTTPSPool}
