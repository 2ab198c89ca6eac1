"""Input no route can use, refused for every route before its view runs.

- Text the database cannot store: a NUL byte (PostgreSQL rejects it in text: the query
  fails, which used to be a 500) or a lone UTF-16 surrogate. In the path it is 404 (such
  an id cannot exist); in a query argument or a form field of the console and the other
  pages it is 400 `text_invalid` (the Chinese error page). The JSON APIs validate their
  own fields and answer with the codes their OpenAPI documents, so only their paths are
  checked here.
- Ids in URLs (`<int:...>`): past PostgreSQL's integer (2**31 - 1) they cannot exist, and
  the query would fail ("integer out of range", a 500): 404 before the view.
- Page numbers: `page` is clamped to 1..MAX_PAGE before any view reads it, so
  999999999999999999999 (an OFFSET past bigint on PostgreSQL, an OverflowError on
  SQLite) or -5 (a negative OFFSET) never reaches a query.

Traps: request.args is replaced (it is a cached property of the request), so it must
happen before anything reads request.values. Uploaded files are not looked at: binary
content is their business (the import reads and checks its own file).
"""
from __future__ import annotations

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

from app.core.errors import AppError, NotFound

MAX_PAGE = 10**6
MAX_ID = 2**31 - 1  # PostgreSQL integer
# Routes that check their own input: the APIs (each field, with documented codes) and the
# WeChat callbacks (signature first, then their XML; reading a form here would also
# consume a callback's body before the pipeline sees it).
API_PREFIXES = ("/api/", "/wechat/")
PAGE_ARGS = ("page",)


class TextInvalid(AppError):
    status = 400
    code = "text_invalid"
    message = "提交的内容包含无法识别的字符"


def is_clean_text(value: str) -> bool:
    """Text the database can store: no NUL, no lone UTF-16 surrogates."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clamped(raw: str) -> str | None:
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 40:
        return None
    return str(min(max(int(text), 1), MAX_PAGE))


def guard_input():
    """before_request: refuse unusable text, clamp page numbers."""
    if not is_clean_text(request.path):
        raise NotFound()
    if request.path.startswith(API_PREFIXES):
        return None  # they check their fields themselves
    for name, value in request.args.items(multi=True):
        if not (is_clean_text(name) and is_clean_text(value)):
            raise TextInvalid(details={"field": name if is_clean_text(name) else None})
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if not (is_clean_text(name) and is_clean_text(value)):
                raise TextInvalid(details={"field": name if is_clean_text(name) else None})
    pages = {name: _clamped(request.args[name]) for name in PAGE_ARGS if name in request.args}
    if any(value is not None and value != request.args[name] for name, value in pages.items()):
        items = [(name, pages.get(name) or value if name in pages else value)
                 for name, value in request.args.items(multi=True)]
        request.args = ImmutableMultiDict(items)
    return None


def reject_impossible_ids(endpoint, values):
    """url_value_preprocessor: an integer id no row can have is not found."""
    for value in (values or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_ID:
            raise NotFound()


def install(app: Flask) -> None:
    """After the body cap (app.core.body_limits), before CSRF and everything else."""
    funcs = app.before_request_funcs.setdefault(None, [])
    from app.core.body_limits import cap_body

    funcs.insert(funcs.index(cap_body) + 1 if cap_body in funcs else 0, guard_input)
    app.url_value_preprocessor(reject_impossible_ids)
