"""Trusted reverse proxies: the client's address and scheme from X-Forwarded-* headers,
only for as many proxies as TRUSTED_PROXIES says stand in front (Werkzeug's ProxyFix).

Default 0: the headers are ignored, since anyone can send them. Behind one load balancer
(or nginx) set 1: every client otherwise has the balancer's address, so one per-IP rate
limit would serve the whole country, and the audit log would record the balancer.

Trap: set it to the number of proxies that APPEND to X-Forwarded-For, no more: one too
many and a client can choose its own address by sending the header itself.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def install(app: Flask) -> None:
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0,
                                x_port=0, x_prefix=0)
