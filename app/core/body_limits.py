"""Request body caps per route family: 413 in the route's own error format.

One table (`LIMITS`) says how many bytes each part of the site reads: the candidate API
tens of KB, the integration API its own, console forms about 1 MB, the console's file
import its own larger limit. The cap is set on `request.max_content_length` (Flask 3.1),
so Werkzeug enforces it for a chunked body too, as it is read; a declared Content-Length
past the cap is refused before a byte is read.

Traps:
- Werkzeug does not fail a chunked body past max_content_length: it stops reading there,
  and the view would get the body cut at the cap. So a body without a Content-Length is
  read here, up to one byte past the cap (at most the cap's worth of memory), and a
  longer one is refused.
- The error page must not read the body again (the console's pages build a form on
  every request): a refused body is replaced by an empty one (drop_body).
- The guard must run before anything reads the body. Flask-WTF's CSRF check is an app
  `before_request` that reads `request.form`, so `install` puts the guard FIRST in the
  app's before_request list, not after the extensions'.
- The WeChat callbacks (wechat_handlers) keep their own limit: not in this table.
- The error is an AppError (PayloadTooLarge): the APIs render it as the JSON error body,
  the console blueprint's AppError handler as its Chinese error page. A chunked body that
  runs past the cap raises Werkzeug's RequestEntityTooLarge while a view reads it:
  app.core.errors renders that one in the same two formats.
"""
from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.datastructures import ImmutableMultiDict

from app.core.errors import AppError

# blueprint or endpoint -> the setting holding its cap in bytes (config/settings.py:
# 64 KB, 256 KB, 1 MB and 6 MB by default). An endpoint entry wins over its blueprint's.
LIMITS: dict[str, str] = {
    "mp_api": "MP_MAX_BODY_BYTES",
    "integration_api": "INTEGRATION_MAX_BODY_BYTES",
    "console": "CONSOLE_MAX_BODY_BYTES",
    # The import file is up to 5 MB (app.services.integration.imports.MAX_BYTES), plus
    # the multipart envelope.
    "console.imports_upload": "IMPORT_MAX_BODY_BYTES",
}


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "提交的内容过大"


def limit_for(endpoint: str | None, blueprint: str | None) -> int | None:
    """The body cap of a route (None: no cap of ours)."""
    key = LIMITS.get(endpoint or "") or LIMITS.get(blueprint or "")
    return int(current_app.config[key]) if key else None


def cap_body():
    """before_request: set this route's cap and refuse a declared length past it."""
    limit = limit_for(request.endpoint, request.blueprint)
    if limit is None:
        return None
    if request.content_length is not None:
        request.max_content_length = limit
        if request.content_length > limit:
            refuse(limit)
        return None
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        request.max_content_length = limit  # no body (a GET): nothing to read here
        return None
    # A streamed (chunked) body: Werkzeug stops reading at max_content_length and hands
    # the view the body cut there, without an error. Read one byte more than the cap
    # (kept by the request for the view): one byte more is the sign of a longer body.
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True, parse_form_data=False)) > limit:
        refuse(limit)
    return None


def drop_body() -> None:
    """Make the refused body read as empty: the error page builds forms (the console's
    退出 form reads request.form), which must not read it again and fail again."""
    empty = ImmutableMultiDict()
    request.form = empty
    request.files = empty
    request._cached_data = b""
    request.max_content_length = None


def refuse(limit: int):
    drop_body()
    raise PayloadTooLarge(details={"max_bytes": limit})


def install(app: Flask) -> None:
    """Run cap_body before every other before_request function (CSRF reads the form)."""
    app.before_request_funcs.setdefault(None, []).insert(0, cap_body)
