"""What the settings pages share: the acting admin, the client address for the audit log,
and a refused change turned into messages beside the fields."""
from __future__ import annotations

from flask import request

from app.core.errors import AppError


def client_ip() -> str | None:
    return request.remote_addr


def field_errors(exc: AppError) -> dict[str, str]:
    """{field: Chinese message} of a refused change (a form-level one under "_form")."""
    errors = {field: item["message"]
              for field, item in (exc.details.get("errors") or {}).items() if field}
    if not errors:
        errors[exc.details.get("field") or "_form"] = exc.message
    return errors


def error_codes(exc: AppError) -> dict[str, str]:
    """{field: stable code} of a refused change (shown as data-code for programs)."""
    codes = {field: item["code"]
             for field, item in (exc.details.get("errors") or {}).items() if field}
    if not codes:
        codes[exc.details.get("field") or "_form"] = exc.code
    return codes
