"""JSON request bodies nested at most MAX_DEPTH levels: deeper is 400 `json_too_deep`.

The request class parses as Flask does, then measures the depth of the result with an
explicit stack (no recursion of ours).

Traps:
- Python's json parser recurses: a body of a few tens of thousands of `[` raises
  RecursionError, which is no ValueError, so `get_json(silent=True)` does not swallow it
  and it used to reach the client as a 500. It is caught here and answered like any
  other too-deep body.
- The result is cached by Werkzeug; the depth is checked on every call, which is cheap
  next to the parse and keeps a cached deep value from slipping through a second call.
"""
from __future__ import annotations

from flask import Flask
from flask.wrappers import Request

from app.core.errors import AppError

# Our payloads nest 3 levels at most ({"results": {id: "accept"}}); room to spare.
MAX_DEPTH = 32


class JsonTooDeep(AppError):
    status = 400
    code = "json_too_deep"
    message = "JSON 嵌套层数过多"


def depth_exceeds(value, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value nests deeper than `limit` containers."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


class DepthLimitedRequest(Request):
    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            data = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise JsonTooDeep(details={"max_depth": MAX_DEPTH}) from None
        if data is not None and depth_exceeds(data):
            raise JsonTooDeep(details={"max_depth": MAX_DEPTH})
        return data


def install(app: Flask) -> None:
    app.request_class = DepthLimitedRequest
