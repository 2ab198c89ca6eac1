"""GET /api/mp/v1/openapi.json: the OpenAPI 3.1 description of this API (public).

The core operations are described in miniprogram_api.openapi; route modules added since
describe theirs here, one block per module, merged into the same document (and checked by
tests/api/test_openapi.py like the rest)."""
from __future__ import annotations

from functools import cache

from flask import jsonify

from miniprogram_api import bp, openapi
from miniprogram_api.openapi import (
    RATE_LIMITED,
    array,
    date_time,
    err,
    integer,
    nullable,
    obj,
    ok,
    operation,
    ref,
    string,
)

# --- personal data (miniprogram_api.privacy, issue 11 §7) -----------------------------------

def _privacy() -> tuple[dict, dict]:
    from app.models import OutboxStatus

    schemas = {
        "ErasureRequest": obj({
            "status": string("`pending`: waiting; `done`: the data was erased.",
                             enum=["pending", "done"]),
            "status_label": string(examples=["待处理"]),
            "requested_at": date_time(),
            "due_at": date_time("Erased by this time at the latest (N working days)."),
        }),
        "HeldData": obj({
            "generated_at": date_time(),
            "candidate": obj({"name": string(), "phone": nullable(string()),
                              "email": nullable(string())}),
            "wechat_accounts": array(obj({"app": string(enum=["mp", "oa"]),
                                          "openid": string(), "bound_at": date_time()})),
            "interviews": array(obj({
                "number": string(), "position": string(), "department": string(),
                "scheduled_at": date_time(), "status": string(enum=openapi.STATUSES),
                "status_label": string(),
                "cancellations": array(obj({
                    "reason": string(), "note": nullable(string()),
                    "state": string(enum=["requested", "detail_requested", "effective",
                                          "rejected"]),
                    "requested_at": date_time(), "detail_answer": nullable(string())})),
            })),
            "feedback": array(obj({"content": string(), "submitted_at": date_time()})),
            "messages": array(obj({
                "title": string(), "channel": nullable(string()),
                "status": string(enum=[s.value for s in OutboxStatus]),
                "queued_at": date_time(), "sent_at": date_time(nullable=True)})),
            "consents": array(obj({"notice_version": string(), "accepted_at": date_time()})),
            "erasure_request": nullable(ref("ErasureRequest")),
            "retention_days": integer("Kept this many days after the process ended.",
                                      minimum=1),
        }, description="Everything held about the candidate."),
    }
    tag = "privacy"
    paths = {
        "/privacy/data": {"get": operation(
            "getPersonalData", "What is held about me", tag=tag, auth="candidate",
            success=ok(ref("HeldData"), "The candidate's personal data."))},
        "/privacy/data/export": {"get": operation(
            "exportPersonalData", "Download what is held about me (JSON file)", tag=tag,
            auth="candidate", description="The same as GET /privacy/data, as an attachment.",
            success=ok(ref("HeldData"), "The file."), errors=(RATE_LIMITED,))},
        "/privacy/erasure-request": {"post": operation(
            "requestErasure", "Ask for my personal data to be erased", tag=tag,
            auth="candidate",
            description="Asking again while a request is pending returns it (200). The "
                        "data is erased by `due_at` at the latest; the WeChat binding goes "
                        "with it (this session then answers `candidate_not_bound`).",
            success={**ok(obj({"erasure_request": ref("ErasureRequest"),
                               "created": {"const": True}}), "Requested.", status=201),
                     **ok(obj({"erasure_request": ref("ErasureRequest"),
                               "created": {"const": False}}), "Already requested.")},
            errors=(RATE_LIMITED,))},
    }
    return paths, schemas


def _bind_privacy_version(doc: dict) -> None:
    """/auth/bind takes the privacy-notice version accepted (optional unless required)."""
    from app.services.candidates.privacy import VERSION_MAX, PrivacyNoticeRequired

    doc["components"]["schemas"]["BindRequest"]["properties"]["privacy_version"] = string(
        "The privacy-notice version the candidate accepted; required (the current one) "
        "when HR's privacy rules say so.", minLength=1, maxLength=VERSION_MAX)
    bind = doc["paths"]["/auth/bind"]["post"]["responses"]["422"]
    codes = bind["content"]["application/json"]["schema"]["properties"]["error"][
        "properties"]["code"]["enum"]
    extra = err(PrivacyNoticeRequired)
    codes[:] = sorted({*codes, extra.code})
    bind["description"] += f"\n- `{extra.code}`: {extra.message}"


# --- request guards every route has (app.core.*, issue 12 §1-2) -----------------------------

def _add_errors(op: dict, errors: list) -> None:
    """Merge errors into an operation's responses (codes and their lines, per status)."""
    for e in errors:
        response = op["responses"].get(str(e.status))
        if response is None:
            op["responses"][str(e.status)] = openapi.error_response([e])
            continue
        codes = response["content"]["application/json"]["schema"]["properties"]["error"][
            "properties"]["code"]["enum"]
        if e.code not in codes:
            codes[:] = sorted({*codes, e.code})
            response["description"] += f"\n- `{e.code}`: {e.message}"
        for header in e.headers:
            response.setdefault("headers", {})[header] = openapi.HEADERS[header]


def _request_guards(doc: dict) -> None:
    """Every write with a session has a per-user rate limit (mp_write unless its own);
    every body is capped and its JSON depth bounded."""
    from app.core.body_limits import PayloadTooLarge
    from app.core.json_limits import JsonTooDeep

    for methods in doc["paths"].values():
        for method, op in methods.items():
            errors = []
            if method != "get" and op.get("security") != []:
                errors.append(RATE_LIMITED)
            if "requestBody" in op:
                errors += [err(PayloadTooLarge), err(JsonTooDeep)]
            _add_errors(op, errors)


@cache
def _extended() -> dict:
    doc = openapi.document()
    from miniprogram_api import offers  # issue 11 §4-5

    for paths, schemas in (_privacy(), offers.openapi_block()):
        doc["paths"].update(paths)
        doc["components"]["schemas"].update(schemas)
    _bind_privacy_version(doc)
    _request_guards(doc)
    doc["tags"].append({"name": "privacy"})
    doc["tags"].append({"name": "offers"})
    return doc


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(_extended())
