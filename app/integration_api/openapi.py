"""OpenAPI 3.1 description of /api/integration/v1, built as plain Python data with the
candidate API's schema helpers (miniprogram_api.openapi), so both documents describe
errors the same way: every error response lists the `error.code` values the server can
answer at that status, read from the error classes where they exist.

One exception: a 422 of an upsert lists the common codes in its description but leaves
`error.code` open, since each field check has its own code (the fields and their codes
are in `details.errors`, see app.services.integration.upsert).

Served at GET /api/integration/v1/openapi.json; tests/integration/test_integration_openapi.py
checks it against the routes and runs schemathesis against the live server.
"""
from __future__ import annotations

import copy
from functools import cache
from typing import Any

from app.core.errors import Forbidden
from app.integration_api.guards import (
    ApiKeyRejected,
    ApiKeyRequired,
    PayloadTooLarge,
    ScopeMissing,
)
from app.services.cancellation.policy import PermissionDenied
from app.services.integration import feed
from app.services.integration.interviews import InterviewNotStarted, OutcomeNotAllowed
from app.services.integration.upsert import InterviewClosed, OutOfScope, SessionFull
from app.services.interviews.errors import (
    AlreadyCancelled,
    CancelPending,
    InterviewNotFound,
    InterviewStarted,
    InvalidReason,
    NotCancellable,
    NoteRequired,
    NoteTooLong,
)
from miniprogram_api.openapi import (
    HEADERS,
    IDEMPOTENCY,
    INVALID_JSON,
    JSON,
    NO_ROUTE,
    RATE_LIMITED,
    STATUSES,
    STRING_FIELDS,
    Err,
    array,
    boolean,
    date_time,
    err,
    error_response,
    error_schema,
    integer,
    nullable,
    obj,
    ok,
    path_param,
    ref,
    string,
)

BASE_PATH = "/api/integration/v1"
VERSION = "1.0.0"
SCOPES = ("interviews:read", "interviews:write", "reports:read")

AUTH = (err(ApiKeyRequired), err(ApiKeyRejected), err(ScopeMissing), err(PermissionDenied),
        RATE_LIMITED)
TOO_LARGE = err(PayloadTooLarge)
FIELD_INVALID = err(422, "field_invalid", "字段 <field> 无效")
INTERVIEW_404 = (err(InterviewNotFound), NO_ROUTE)
# Codes a 422 of an upsert often has (the field checks have more: see details.errors).
UPSERT_422_CODES = ("invalid_json", "external_id_mismatch", "upsert_invalid",
                    "field_required", "position_external_id_not_found",
                    "candidate_external_id_not_found", "session_external_id_not_found",
                    "interviewer_username_not_found", "phone_invalid", "number_taken",
                    "scheduled_at_outside_session", "capacity_below_booked")


def _open_422(response: dict) -> dict:
    """A 422 whose error.code is any snake_case code (an upsert's field checks)."""
    schema = response["content"][JSON]["schema"]
    schema["properties"]["error"]["properties"]["code"] = {"type": "string"}
    response["description"] += ("\n- and the code of any other field check: every bad "
                                "field is in `details.errors` as {field, code, message}")
    return response


def operation(operation_id: str, summary: str, *, tag: str, scope: str | None,
              success: dict, errors: tuple[Err, ...] = (), body: dict | None = None,
              description: str = "", parameters: tuple[dict, ...] = (),
              write: bool = False, open_422: bool = False) -> dict:
    """One operation: `scope` None is public; `write` adds Idempotency-Key, the body limit
    and their errors."""
    all_errors = list(errors)
    if scope is not None:
        all_errors[:0] = AUTH
    if write:
        all_errors.extend((*IDEMPOTENCY, TOO_LARGE))
    by_status: dict[int, list[Err]] = {}
    for e in all_errors:
        by_status.setdefault(e.status, []).append(e)
    responses = dict(success)
    for status in sorted(by_status):
        # 401, 403, 413 and 429 are answered before the idempotency layer: never replayed
        response = error_response(by_status[status],
                                  replayable=write and status not in (401, 403, 413, 429))
        if status == 422 and open_422:
            response = _open_422(response)
        responses[str(status)] = response
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag],
                          "responses": responses}
    if scope is not None:
        description = (description + "\n\n" if description else "") + \
            f"Scope: `{scope}`."
        op["security"] = [{"apiKey": [scope]}]
    else:
        op["security"] = []
    if description:
        op["description"] = description
    params = list(parameters)
    if write:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return op


REF = path_param("ref", "The interview's external id (as sent with PUT), or else its "
                        "number (`AI-...`). An interview outside the key's departments "
                        "answers 404.")
EXTERNAL_ID = {"name": "external_id", "in": "path", "required": True,
               "description": "The id of the object in your system (1 to 64 characters, no "
                              "whitespace).",
               "schema": {"type": "string", "minLength": 1, "maxLength": 64,
                          "pattern": "^[^/\\s]+$"}}
INTERVIEW_EXTERNAL_ID = {**EXTERNAL_ID, "name": "ref",
                         "description": "The interview's external id in your system."}
LOCAL_OR_ISO = ("ISO 8601 with an offset, or Beijing local time without one "
                "(`2026-12-03 14:00`).")


def _interview_properties() -> dict:
    return {
        "external_id": nullable(string("Your id (null for interviews made elsewhere).")),
        "number": string(examples=["AI-2026-12-03-001"]),
        "status": string(enum=STATUSES),
        "status_label": string("Chinese, e.g. 已取消.", examples=["待确认"]),
        "scheduled_at": date_time(),
        "duration_minutes": integer(minimum=0),
        "position": ref("PositionRef"),
        "candidate": ref("CandidateRef"),
        "confirmed_at": date_time(nullable=True),
        "cancelled_at": date_time(nullable=True),
    }


def _schemas() -> dict:
    return {
        "Error": error_schema("`field`, `errors`, `scope`, `retry_after`, `max_bytes`"),
        "PositionRef": obj({"external_id": nullable(string()), "title": string(),
                            "department": string()}),
        "CandidateRef": obj({"external_id": nullable(string()), "name": string()}),
        "Interview": obj(_interview_properties()),
        "Approval": obj({"level": integer(minimum=1),
                         "decision": string(enum=["pending", "approved", "rejected"]),
                         "comment": nullable(string()),
                         "decided_at": date_time(nullable=True)}),
        "Cancellation": obj({
            "cancelled_by": string("`company` (HR or an API key), `candidate` or `system`.",
                                   enum=["candidate", "company", "system"]),
            "actor_type": string(enum=["candidate", "hr", "integration", "system"]),
            "reason_code": string(), "reason_label": string(),
            "note": nullable(string()),
            "state": string(enum=["requested", "detail_requested", "effective",
                                  "rejected"]),
            "state_label": string(),
            "requested_at": date_time(), "decided_at": date_time(nullable=True),
            "approvals": array(ref("Approval"), "Review levels (a candidate's request).")}),
        "Notification": obj({
            "kind": string("Message kind, e.g. `company_cancelled`."),
            "recipient_type": string(examples=["candidate", "hr_user"]),
            "channel": nullable(string("subscribe / oa_template / sms / email / ...")),
            "status": string(enum=["queued", "sending", "sent", "delivered", "read",
                                   "retrying", "failed", "unreachable", "skipped"]),
            "status_label": string(),
            "queued_at": date_time(), "sent_at": date_time(nullable=True),
            "delivered_at": date_time(nullable=True), "read_at": date_time(nullable=True)}),
        "InterviewRecord": obj({
            **_interview_properties(),
            "cancellation": nullable(ref("Cancellation")),
            "notifications": array(ref("Notification"), "Every message about it, oldest "
                                                        "first.")}),
        "CancelReason": obj({"code": string(), "label": string(), "category": string(),
                             "requires_note": boolean(),
                             "note_max_length": integer(minimum=0)}),
        "Change": obj({
            "cursor": integer("This entry's place in the sealed audit log.", minimum=1),
            "action": string("e.g. `interview.cancelled`, `interview.updated`.",
                             examples=["interview.cancelled"]),
            "at": date_time(),
            "interview": obj({"external_id": nullable(string()), "number": string(),
                              "status": string("Its status now.", enum=STATUSES)})}),
        "CancellationReport": obj({
            "period": obj({"date_from": string(format="date"),
                           "date_to": string(format="date")}),
            "department": nullable(string()),
            "total": integer(minimum=0),
            "per_day": array(obj({"day": string(format="date"),
                                  "count": integer(minimum=0)})),
            "per_week": array(obj({"week_of": string("The week's Monday.", format="date"),
                                   "count": integer(minimum=0)})),
            "by_reason": array(obj({"code": string(), "label": string(),
                                    "category": string(), "count": integer(minimum=0)})),
            "by_category": {"type": "object",
                            "additionalProperties": {"type": "integer", "minimum": 0}},
            "by_initiator": {"type": "object", "description": "candidate / company / system",
                             "additionalProperties": {"type": "integer", "minimum": 0}},
            "positions": array(obj({"title": string(), "department": string(),
                                    "interviews": integer(minimum=0),
                                    "cancelled": integer(minimum=0),
                                    "rate": {"type": "number", "minimum": 0},
                                    "flagged": boolean("Above the alert rule.")})),
            "overall_rate": {"type": "number", "minimum": 0},
            "alert_percent": integer(minimum=0)}),
        "Position": obj({"external_id": string(), "title": string(), "department": string(),
                         "level": nullable(string()), "is_senior": boolean(),
                         "cancel_requires_review": boolean()}),
        "Session": obj({"external_id": string(),
                        "position_external_id": nullable(string()),
                        "starts_at": date_time(), "ends_at": date_time(),
                        "capacity": integer(minimum=0), "booked": integer(minimum=0)}),
        "Invite": obj({"token": string("One-time binding token (shown once)."),
                       "link": string("Mini-program page path with the token."),
                       "qr_scene": string("The `scene` of a wxacode.getUnlimited QR code."),
                       "expires_at": date_time()}),
        # request bodies (open: unknown keys are ignored)
        "PositionIn": obj({"title": string(maxLength=100), "department": string(maxLength=100),
                           "level": string(maxLength=32),
                           "is_senior": {"type": ["boolean", "string"]},
                           "cancel_requires_review": {"type": ["boolean", "string"]}},
                          optional=("is_senior", "cancel_requires_review"), closed=False),
        "SessionIn": obj({"position_external_id": string(maxLength=64),
                          "starts_at": string(LOCAL_OR_ISO), "ends_at": string(LOCAL_OR_ISO),
                          "capacity": integer(minimum=1, maximum=10000)}, closed=False),
        "CandidateIn": obj({"name": string(maxLength=64),
                            "phone": string("Mainland mobile number (stored encrypted).",
                                            examples=["13800138000"]),
                            "email": nullable(string(maxLength=254))},
                           optional=("email",), closed=False),
        "InterviewIn": obj({
            "candidate_external_id": string(maxLength=64),
            "position_external_id": string(maxLength=64),
            "session_external_id": nullable(string(maxLength=64)),
            "scheduled_at": string(LOCAL_OR_ISO),
            "duration_minutes": nullable(integer(minimum=5, maximum=480)),
            "interviewer_username": nullable(string(maxLength=64)),
            "join_url": nullable(string(maxLength=500)),
            "confirm_by": nullable(string(LOCAL_OR_ISO)),
            "number": nullable(string(maxLength=32))},
            optional=("session_external_id", "duration_minutes", "interviewer_username",
                      "join_url", "confirm_by", "number"), closed=False),
        "CancelIn": obj({"reason_code": string("A code from GET /cancel-reasons.",
                                               minLength=1, maxLength=40),
                         "note": nullable(string(maxLength=2000))},
                        optional=("note",), closed=False),
        "OutcomeIn": obj({"outcome": string(enum=["completed", "no_show"])}, closed=False),
    }


def _upsert(kind: str, schema_in: str, shape: dict, summary: str, *, param: dict,
            extra: dict | None = None, conflicts: tuple[Err, ...] = ()) -> dict:
    result = obj({"created": boolean(), "changed": boolean("Anything differed."),
                  "fields": array(string(), "The fields that changed (updates)."),
                  kind: shape, **(extra or {})})
    return {"put": operation(
        f"put{kind.title()}", summary, tag="upserts", scope="interviews:write",
        parameters=(param,), body=ref(schema_in), write=True, open_422=True,
        success={**ok(result, "Created.", status=201, replayable=True),
                 **ok(result, "Updated, or the same as before.", replayable=True)},
        errors=(err(Forbidden), err(OutOfScope), NO_ROUTE, *conflicts, INVALID_JSON,
                err(422, "external_id_mismatch", "请求体中的 external_id 与路径中的不一致"),
                *(err(422, code, code) for code in UPSERT_422_CODES[2:])))}


def _paths() -> dict:
    read, write = "interviews:read", "interviews:write"
    cancel_errors = (*INTERVIEW_404, err(AlreadyCancelled), err(CancelPending),
                     err(NotCancellable), err(InterviewStarted), *STRING_FIELDS,
                     err(InvalidReason), err(NoteRequired), err(NoteTooLong))
    return {
        "/positions/{external_id}": _upsert(
            "position", "PositionIn", ref("Position"), "Create or update a position",
            param=EXTERNAL_ID),
        "/sessions/{external_id}": _upsert(
            "session", "SessionIn", ref("Session"), "Create or update a session",
            param=EXTERNAL_ID),
        "/candidates/{external_id}": _upsert(
            "candidate", "CandidateIn", ref("CandidateRef"),
            "Create or update a candidate (a new one gets an invitation)",
            param=EXTERNAL_ID, extra={"invite": nullable(ref("Invite"))}),
        "/interviews/{ref}": {
            "get": operation(
                "getInterview", "An interview: status, cancellation, notifications",
                tag="interviews", scope=read, parameters=(REF,),
                success=ok(ref("InterviewRecord"), "The interview."), errors=INTERVIEW_404),
            **_upsert("interview", "InterviewIn", ref("Interview"),
                      "Create or update an interview", param=INTERVIEW_EXTERNAL_ID,
                      conflicts=(err(InterviewClosed), err(SessionFull)))},
        "/interviews/{ref}/cancel": {"post": operation(
            "cancelInterview", "Cancel as the company", tag="interviews", scope=write,
            description="The same rules as an HR user's cancel in the console: a "
                        "company-side reason (GET /cancel-reasons) is required; the "
                        "candidate and the team are told.",
            parameters=(REF,), body=ref("CancelIn"), write=True,
            success=ok(obj({"status": string(enum=["cancelled"]),
                            "interview": ref("InterviewRecord")}), "Cancelled.",
                       replayable=True),
            errors=cancel_errors)},
        "/interviews/{ref}/outcome": {"post": operation(
            "reportOutcome", "Report completion or no-show", tag="interviews", scope=write,
            description="Once the interview has started; both outcomes are final. The "
                        "same outcome again answers `changed: false`.",
            parameters=(REF,), body=ref("OutcomeIn"), write=True,
            success=ok(obj({"changed": boolean(), "interview": ref("Interview")}),
                       "Recorded.", replayable=True),
            errors=(*INTERVIEW_404, err(OutcomeNotAllowed), err(InterviewNotStarted),
                    err(409, "interview_changed", "面试正在被其他操作修改，请稍后重试"),
                    INVALID_JSON, FIELD_INVALID))},
        "/changes": {"get": operation(
            "listChanges", "Interview changes since a cursor (for polling)",
            tag="interviews", scope=read,
            description="Oldest first, from the sealed audit log: pass `next_cursor` as "
                        "`cursor` next time (start with 0). Entries appear once sealed "
                        "(within seconds); none is ever skipped or repeated.",
            parameters=(
                {"name": "cursor", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 2**62}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": feed.MAX_LIMIT}}),
            success=ok(obj({"items": array(ref("Change")),
                            "next_cursor": integer(minimum=0),
                            "has_more": boolean()}), "A page of changes."),
            errors=(FIELD_INVALID,))},
        "/reports/cancellations": {"get": operation(
            "cancellationReport", "Cancellations of a period (the console's report)",
            tag="reports", scope="reports:read",
            description="Effective cancellations per day and week (Asia/Shanghai), by "
                        "reason, category and initiator, and per position with the "
                        "cancel rate; within the key's departments. Default period: the "
                        "last 30 days; at most a year.",
            parameters=tuple({"name": name, "in": "query", "required": False,
                              "description": text, "schema": schema}
                             for name, text, schema in (
                ("date_from", "First day, YYYY-MM-DD.", {"type": "string", "format": "date"}),
                ("date_to", "Last day, YYYY-MM-DD.", {"type": "string", "format": "date"}),
                ("department", "One department.", {"type": "string", "maxLength": 100}))),
            success=ok(ref("CancellationReport"), "The report."),
            errors=(err(Forbidden, code="reports_forbidden",
                        message="您没有查看报表的权限"),
                    err(422, "period_invalid", "日期格式有误，请使用 年-月-日"),
                    err(422, "period_reversed", "开始日期不能晚于结束日期"),
                    err(422, "period_too_long", "统计周期最长 366 天，请缩短日期范围")))},
        "/cancel-reasons": {"get": operation(
            "listCancelReasons", "Company-side cancel reasons", tag="interviews",
            scope=read, success=ok(obj({"items": array(ref("CancelReason"))}),
                                   "Active reasons."))},
        "/openapi.json": {"get": operation(
            "openapi", "This document", tag="other", scope=None,
            success=ok({"type": "object", "required": ["openapi", "info", "paths"]},
                       "OpenAPI 3.1 document."))},
    }


@cache
def _document() -> dict:
    schemas = _schemas()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI 面试取消平台 集成 API",
            "version": VERSION,
            "description": "For the AI-interview platform, ATS or ERP. Authenticate with "
                           "`Authorization: Bearer <API key>` (created in 系统设置 → 接口密钥 "
                           "or by `flask api-keys create`). Every write takes an "
                           "`Idempotency-Key`. Errors: HTTP status + `{\"error\": {\"code\", "
                           "\"message\", \"details\"}}`; `message` is Chinese.",
        },
        "servers": [{"url": BASE_PATH}],
        "tags": [{"name": "upserts"}, {"name": "interviews"}, {"name": "reports"},
                 {"name": "other"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer",
                "description": "An API key (`aiik_...`); scopes: "
                               + ", ".join(f"`{s}`" for s in SCOPES) + "."}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Makes a retry safe: the same key (per API key, 24 h) "
                               "replays the first response instead of acting again.",
                "schema": {"type": "string", "maxLength": 100}}},
            "headers": {"Idempotent-Replayed": HEADERS["Idempotent-Replayed"]},
            "schemas": schemas,
        },
    }


def document() -> dict:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
