"""Security headers: the console's policy (no framing, own resources only, no caching of
personal data) for every HTML page that shows a person's data, and HSTS in production.

The public message page /m/open (SMS and e-mail links) shows a candidate's interview, so
it gets the same policy as the console: nobody may frame it (clickjacking the read mark)
or load anything from elsewhere into it. Its styles are a file (app/static/landing.css),
since the policy allows no inline style.

Trap: HSTS is sent only by production (HSTS_SECONDS > 0): sent by a development server
on http://127.0.0.1 a browser would insist on https for localhost for a year.
"""
from __future__ import annotations

from flask import Flask, current_app, request

CONSOLE_CSP = ("default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
               "base-uri 'none'")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONSOLE_CSP,
}
# Blueprints whose pages get PAGE_HEADERS (nested ones too: the mobile console is
# "console.mobile"). A view may set a header of its own first: setdefault keeps it.
PROTECTED_BLUEPRINTS = frozenset({"landing", "console"})


def apply_page_headers(response):
    for key, value in PAGE_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def add_headers(response):
    if PROTECTED_BLUEPRINTS.intersection(request.blueprints):
        apply_page_headers(response)
    seconds = int(current_app.config.get("HSTS_SECONDS") or 0)
    if seconds > 0:
        response.headers.setdefault("Strict-Transport-Security",
                                    f"max-age={seconds}; includeSubDomains")
    return response


def install(app: Flask) -> None:
    app.after_request(add_headers)
