"""OpenAPI 3.1 description of the candidate API (/api/mp/v1), built as plain Python data.

Every error response lists the exact `error.code` values the server can answer with at
that status (as an enum on `error.code`, and with their Chinese messages in the
description). Codes and messages of the domain errors are read from the error classes
themselves, so a renamed code cannot drift silently; codes raised ad hoc (for example
`ValidationFailed(code="field_required")`) are written out here.

The document is served by `miniprogram_api.spec` at GET /api/mp/v1/openapi.json and is
checked against the live server by tests/api/test_openapi.py (schemathesis).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.core.errors import HTTP_MESSAGES, AppError, ServiceUnavailable
from app.core.idempotency import RequestInProgress
from app.core.ratelimit import RateLimited
from app.services.cancellation.policy import NoDetailRequested
from app.services.candidates.binding import (
    AccountBoundToOther,
    CandidateBoundToOther,
    InviteExpired,
    InviteInvalid,
    InviteUsed,
    PhoneCodeInvalid,
    PhoneNotMatched,
)
from app.services.candidates.feedback import MAX_LENGTH as FEEDBACK_MAX_LENGTH
from app.services.candidates.sessions import LoginBlocked, LoginCodeInvalid, LoginRateLimited
from app.services.candidates.subscriptions import RESULTS as SUBSCRIPTION_RESULTS
from app.services.interviews.confirm import ConfirmDeadlinePassed
from app.services.interviews.errors import (
    AlreadyCancelled,
    CancelDeadlinePassed,
    CancelPending,
    InterviewNotFound,
    InterviewStarted,
    InvalidReason,
    NotCancellable,
    NoteRequired,
    NoteTooLong,
)
from app.services.interviews.reschedule import (
    InterviewChanged,
    NotReschedulable,
    RescheduleDeadlinePassed,
    SlotFull,
    SlotInvalid,
)
from app.services.notifications.read import NotificationNotFound
from miniprogram_api.auth import NotBound

JSON = "application/json"
BASE_PATH = "/api/mp/v1"
VERSION = "1.0.0"


# --- small schema helpers -----------------------------------------------------------------

def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str | None = None, **kw) -> dict:
    return _described({"type": "string", **kw}, description)


def integer(description: str | None = None, **kw) -> dict:
    return _described({"type": "integer", **kw}, description)


def boolean(description: str | None = None) -> dict:
    return _described({"type": "boolean"}, description)


def date_time(description: str | None = None, *, nullable: bool = False) -> dict:
    schema = {"type": ["string", "null"] if nullable else "string", "format": "date-time",
              "examples": ["2024-03-15T10:00:00+08:00"]}
    return _described(schema, description)


def nullable(schema: dict) -> dict:
    """`schema` or null (JSON Schema 2020-12 style, as OpenAPI 3.1 uses)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    schema["type"] = [schema["type"], "null"]
    return schema


def array(items: dict, description: str | None = None, **kw) -> dict:
    return _described({"type": "array", "items": items, **kw}, description)


def obj(properties: dict, *, optional: tuple[str, ...] = (), closed: bool = True,
        description: str | None = None, **kw) -> dict:
    """An object whose properties are all required except `optional`. Response objects are
    closed (the server sends exactly these keys); request bodies stay open (unknown keys
    are ignored by the server)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": [k for k in properties if k not in optional]}
    if closed:
        schema["additionalProperties"] = False
    schema.update(kw)
    return _described(schema, description)


def _described(schema: dict, description: str | None) -> dict:
    if description:
        schema["description"] = description
    return schema


# --- the error catalogue --------------------------------------------------------------------

@dataclass(frozen=True)
class Err:
    status: int
    code: str
    message: str
    headers: tuple[str, ...] = ()


def err(source: type[AppError] | int, code: str | None = None, message: str | None = None,
        *, headers: tuple[str, ...] = ()) -> Err:
    """An error from its AppError class, or (status, code, message) for ad hoc ones."""
    if isinstance(source, int):
        assert code and message
        return Err(source, code, message, headers)
    return Err(source.status, code or source.code, message or source.message, headers)


# Authentication (miniprogram_api.auth)
SESSION_INVALID = err(401, "session_invalid", "登录已失效，请重新登录")
NOT_BOUND = err(NotBound)
# Body parsing (views.json_body / views.string_field)
INVALID_JSON = err(422, "invalid_json", "请求体必须是 JSON 对象")
FIELD_REQUIRED = err(422, "field_required", "缺少必填字段 <field>")
FIELD_INVALID = err(422, "field_invalid", "字段 <field> 必须是字符串")
FIELD_TOO_LONG = err(422, "field_too_long", "字段 <field> 过长")
STRING_FIELDS = (INVALID_JSON, FIELD_REQUIRED, FIELD_INVALID, FIELD_TOO_LONG)
# Werkzeug routing: a path parameter that contains "/" matches no route.
NO_ROUTE = err(404, HTTP_MESSAGES[404][0], HTTP_MESSAGES[404][1])
# Rate limits (app.core.ratelimit) and idempotency (app.core.idempotency)
RATE_LIMITED = err(RateLimited, headers=("Retry-After",))
REQUEST_IN_PROGRESS = err(RequestInProgress)
IDEMPOTENCY_KEY_INVALID = err(422, "invalid_idempotency_key", "Idempotency-Key 过长")
IDEMPOTENCY_KEY_REUSED = err(422, "idempotency_key_reused", "该 Idempotency-Key 已用于另一个请求")
IDEMPOTENCY = (REQUEST_IN_PROGRESS, IDEMPOTENCY_KEY_INVALID, IDEMPOTENCY_KEY_REUSED)
# WeChat
WECHAT_UNAVAILABLE = err(ServiceUnavailable, message="微信登录/手机号服务暂时不可用，请稍后再试")
# Interviews
INTERVIEW_NOT_FOUND = err(InterviewNotFound)
INTERVIEW_404 = (INTERVIEW_NOT_FOUND, NO_ROUTE)


# --- response helpers -----------------------------------------------------------------------

HEADERS = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "required": True,
                    "schema": {"type": "integer", "minimum": 1}},
    "Idempotent-Replayed": {
        "description": "Present (`true`) when this is the stored response of an earlier "
                       "request with the same Idempotency-Key; nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]}},
}


def error_response(errors: list[Err], *, replayable: bool = False) -> dict:
    codes = sorted({e.code for e in errors})
    lines = "\n".join(f"- `{e.code}`: {e.message}" for e in sorted(
        {e.code: e for e in errors}.values(), key=lambda e: e.code))
    response: dict[str, Any] = {
        "description": "Error; `error.code` is one of:\n" + lines,
        "content": {JSON: {"schema": {
            "allOf": [ref("Error")],
            "properties": {"error": {"properties": {"code": {"enum": codes}}}}}}},
    }
    headers = {h: HEADERS[h] for e in errors for h in e.headers}
    if replayable:
        headers["Idempotent-Replayed"] = HEADERS["Idempotent-Replayed"]
    if headers:
        response["headers"] = headers
    return response


def ok(schema: dict | None, description: str, *, status: int = 200, replayable: bool = False
       ) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    if replayable:
        response["headers"] = {"Idempotent-Replayed": HEADERS["Idempotent-Replayed"]}
    return {str(status): response}


def operation(operation_id: str, summary: str, *, tag: str, auth: str | None, success: dict,
              errors: tuple[Err, ...] = (), body: dict | None = None, description: str = "",
              parameters: tuple[dict, ...] = (), idempotent: bool = False) -> dict:
    """One operation: `auth` is None (public), "login" (any logged-in WeChat user) or
    "candidate" (a user bound to a candidate record); its errors are added here."""
    all_errors = list(errors)
    if auth == "login":
        all_errors.insert(0, SESSION_INVALID)
    elif auth == "candidate":
        all_errors[:0] = [SESSION_INVALID, NOT_BOUND]
    if idempotent:
        all_errors.extend(IDEMPOTENCY)
    by_status: dict[int, list[Err]] = {}
    for e in all_errors:
        by_status.setdefault(e.status, []).append(e)
    responses = dict(success)
    for status in sorted(by_status):
        # 401, 403 and 429 are answered before the idempotency layer: never replayed
        responses[str(status)] = error_response(
            by_status[status], replayable=idempotent and status not in (401, 403, 429))
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag],
                          "responses": responses}
    if description:
        op["description"] = description
    params = list(parameters)
    if idempotent:
        params.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    if auth is None:
        op["security"] = []
    return op


def path_param(name: str, description: str) -> dict:
    # No "/" (not even as %2F, which WSGI decodes before routing: the request would reach
    # another route, or none: 404 `not_found`).
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}}


INTERVIEW_ID = path_param("public_id", "Opaque interview id from the list (`iv_...`); "
                                       "another candidate's interview answers 404.")
OPEN_TOKEN = path_param("open_token", "The token in the link of a message sent to the "
                                      "candidate.")


# --- components -----------------------------------------------------------------------------

STATUSES = ["scheduled", "confirmed", "cancel_pending", "cancelled", "completed", "no_show"]
TIMELINE_TYPES = ["scheduled", "confirmed", "cancel_requested", "cancel_rejected",
                  "cancel_approved", "cancelled", "rescheduled", "message_sent",
                  "message_delivered", "message_read"]


def _interview_properties() -> dict:
    return {
        "id": string("Opaque id used in URLs.", examples=["iv_Qm9vZ3VzSWRfMDE"]),
        "number": string("Human-readable number, `AI-<date>-<nnn>`.",
                         examples=["AI-2024-03-15-001"]),
        "status": string(enum=STATUSES),
        "status_label": string("Status in Chinese, e.g. 待确认.", examples=["待确认"]),
        "position": ref("Position"),
        "scheduled_at": date_time("Start time (Asia/Shanghai offset)."),
        "duration_minutes": integer(minimum=0),
        "join_url": nullable(string("Video room link.")),
        "can_cancel": boolean("Whether the cancel button should be offered now (directly, "
                              "or as a request to HR after the deadline when HR allows it)."),
        "can_reschedule": boolean("Whether 改期 should be offered now (before the deadline; "
                                  "the open slots come from reschedule-slots)."),
        "cancel_deadline": date_time("Last moment for self-service cancellation and "
                                     "rescheduling."),
        "confirm_by": date_time("Attendance must be confirmed before this time.",
                                nullable=True),
        "cancelled_by": nullable(string(
            "Who cancelled (set when `status` is `cancelled`): `candidate`, `company` (HR) "
            "or `system` (a rule, e.g. not confirmed in time).",
            enum=["candidate", "company", "system"])),
        "detail_requested": nullable(string(
            "HR's question when they asked the candidate to add to a cancellation request "
            "(answer with POST /interviews/{id}/cancel-request/detail); otherwise null.")),
    }


def error_schema(detail_examples: str) -> dict:
    """The error body every API of ours answers with (this one and the integration API)."""
    return obj({
        "error": obj({
            "code": string("Stable snake_case code for programs.",
                           pattern="^[a-z][a-z0-9_]*$"),
            "message": string("Chinese explanation for people.", minLength=1),
            "details": {"type": "object",
                        "description": f"Extra facts, e.g. {detail_examples}."},
        }),
    }, description="Every error: HTTP status + this body.")


def _schemas() -> dict:
    interview = _interview_properties()
    return {
        "Error": error_schema("`field`, `max_length`, `retry_after`, `cancel_deadline`, "
                              "`hr_contact`"),
        "Candidate": obj({"name": string(examples=["王伟"])}),
        "Position": obj({"title": string(), "department": string()}),
        "Interview": obj(interview),
        "TimelineEvent": obj({
            "type": string(enum=TIMELINE_TYPES),
            "label": string("Chinese label, e.g. 面试已取消.", examples=["面试已安排"]),
            "at": date_time(),
            "detail": nullable(string("The reason label for cancellation events, the new "
                                      "time for `rescheduled`.")),
        }),
        "InterviewDetail": obj({**interview, "timeline": array(ref("TimelineEvent"),
                                                                "Oldest first.")}),
        "CancelReason": obj({
            "code": string(examples=["time_conflict"]),
            "label": string(examples=["时间冲突"]),
            "requires_note": boolean("A note is required with this reason."),
            "note_max_length": integer(minimum=0),
        }),
        "Cancellation": obj({
            "state": string("`effective`: cancelled; `requested`: waiting for HR.",
                            enum=["effective", "requested"]),
            "reason_code": string(),
            "reason_label": string(),
            "note": nullable(string()),
        }),
        "Slot": obj({
            "slot_id": string(examples=["42"]),
            "starts_at": date_time(),
            "ends_at": date_time(),
            "remaining": integer("Places left.", minimum=1),
        }),
        # request bodies
        "LoginRequest": obj({"code": string("The `code` from wx.login().", minLength=1,
                                            maxLength=128)}, closed=False),
        "BindRequest": obj({
            "invite_token": string("Token from the interview invitation link.",
                                   minLength=1, maxLength=128),
            "phone_code": string("The `code` from the getPhoneNumber button.",
                                 minLength=1, maxLength=128),
        }, optional=("invite_token", "phone_code"), closed=False,
            description="Exactly one of `invite_token` and `phone_code`.",
            oneOf=[{"required": ["invite_token"]}, {"required": ["phone_code"]}]),
        "CancelRequest": obj({
            "reason_code": string("A `code` from GET /cancel-reasons.", minLength=1,
                                  maxLength=40),
            "note": nullable(string("Required when the reason `requires_note`; at most the "
                                    "reason's `note_max_length` characters.", maxLength=2000)),
        }, optional=("note",), closed=False),
        "DetailAnswer": obj({
            "note": string("The candidate's answer to HR's question.", minLength=1,
                           maxLength=2000),
        }, closed=False),
        "RescheduleRequest": obj({
            "slot_id": {"type": ["string", "integer"], "minLength": 1, "maxLength": 20,
                        "description": "A `slot_id` from GET /reschedule-slots (a string; "
                                       "an integer is accepted too)."},
        }, closed=False),
        "SubscriptionResults": obj({
            "results": {"type": "object", "minProperties": 1, "maxProperties": 3,
                        "propertyNames": {"minLength": 1, "maxLength": 64},
                        "additionalProperties": {"enum": list(SUBSCRIPTION_RESULTS)},
                        "description": "template id -> result of "
                                       "wx.requestSubscribeMessage (1 to 3 templates)."},
        }, closed=False),
        "FeedbackRequest": obj({
            "content": string(f"At most {FEEDBACK_MAX_LENGTH} characters after trimming.",
                              minLength=1, maxLength=5000),
            "interview_id": nullable(string("One of the candidate's interview ids.",
                                            maxLength=40)),
        }, optional=("interview_id",), closed=False),
    }


def _paths() -> dict:
    auth, interviews, subs, other = "auth", "interviews", "subscriptions", "other"
    return {
        "/auth/login": {"post": operation(
            "login", "Log in with a wx.login code", tag=auth, auth=None,
            description="Exchanges the code with WeChat (code2session) for our own opaque "
                        "bearer token; the session_key never leaves the server.",
            body=ref("LoginRequest"),
            success=ok(obj({"token": string(), "expires_in": integer("Seconds.", minimum=1),
                            "bound": boolean("Linked to a candidate record."),
                            "candidate": nullable(ref("Candidate"))}), "Logged in."),
            errors=(err(LoginCodeInvalid), err(LoginBlocked), *STRING_FIELDS, RATE_LIMITED,
                    err(LoginRateLimited, headers=("Retry-After",)), WECHAT_UNAVAILABLE))},
        "/auth/logout": {"post": operation(
            "logout", "Revoke this bearer token", tag=auth, auth="login",
            success=ok(None, "Logged out.", status=204))},
        "/auth/bind": {"post": operation(
            "bind", "Link this WeChat user to a candidate", tag=auth, auth="login",
            body=ref("BindRequest"),
            success=ok(obj({"bound": {"const": True}, "candidate": ref("Candidate")}),
                       "Bound (binding again to the same candidate is harmless)."),
            errors=(*STRING_FIELDS, err(InviteInvalid), err(PhoneCodeInvalid),
                    err(PhoneNotMatched), err(InviteUsed), err(AccountBoundToOther),
                    err(CandidateBoundToOther), err(InviteExpired), RATE_LIMITED,
                    WECHAT_UNAVAILABLE))},
        "/interviews": {"get": operation(
            "listInterviews", "The candidate's interviews", tag=interviews, auth="candidate",
            success=ok(obj({"items": array(ref("Interview"), "Latest first.")}),
                       "The interviews."))},
        "/interviews/{public_id}": {"get": operation(
            "getInterview", "An interview and its timeline", tag=interviews,
            auth="candidate", parameters=(INTERVIEW_ID,),
            success=ok(ref("InterviewDetail"), "The interview."), errors=INTERVIEW_404)},
        "/cancel-reasons": {"get": operation(
            "listCancelReasons", "Reasons for the cancel picker", tag=interviews,
            auth="candidate",
            success=ok(obj({"items": array(ref("CancelReason"))}), "Active reasons."))},
        "/interviews/{public_id}/cancel": {"post": operation(
            "cancelInterview", "Cancel (the second tap)", tag=interviews, auth="candidate",
            description="Cancelled at once, or a request for HR approval (`cancel_pending`) "
                        "when the position requires review or the deadline has passed and "
                        "HR accepts late requests.",
            parameters=(INTERVIEW_ID,), idempotent=True, body=ref("CancelRequest"),
            success=ok(obj({"status": string(enum=["cancelled", "cancel_pending"]),
                            "interview": ref("Interview"),
                            "cancellation": ref("Cancellation")}), "Done.", replayable=True),
            errors=(*INTERVIEW_404, err(AlreadyCancelled), err(CancelPending),
                    err(NotCancellable), err(InterviewStarted), err(CancelDeadlinePassed),
                    *STRING_FIELDS, err(InvalidReason), err(NoteRequired), err(NoteTooLong),
                    RATE_LIMITED))},
        "/interviews/{public_id}/cancel-request/detail": {"post": operation(
            "answerCancelDetail", "Add to a cancellation request as HR asked",
            tag=interviews, auth="candidate",
            description="When HR chose 要求补充说明, the interview's `detail_requested` holds "
                        "their question; the answer sends the request back to HR's queue.",
            parameters=(INTERVIEW_ID,), body=ref("DetailAnswer"),
            success=ok(obj({"interview": ref("Interview")}), "Sent to HR."),
            errors=(*INTERVIEW_404, err(NoDetailRequested),
                    err(NoteRequired, message="请填写补充说明"), err(NoteTooLong),
                    *STRING_FIELDS))},
        "/interviews/{public_id}/confirm": {"post": operation(
            "confirmInterview", "Confirm attendance", tag=interviews, auth="candidate",
            description="Confirming twice is harmless.", parameters=(INTERVIEW_ID,),
            success=ok(obj({"interview": ref("Interview"), "confirmed_at": date_time()}),
                       "Confirmed."),
            errors=(*INTERVIEW_404, err(AlreadyCancelled), err(CancelPending),
                    err(InterviewStarted, code="not_confirmable",
                        message="面试已开始或已结束，无需确认"),
                    err(ConfirmDeadlinePassed)))},
        "/interviews/{public_id}/reschedule-slots": {"get": operation(
            "listRescheduleSlots", "Open slots within the rescheduling window",
            tag=interviews, auth="candidate", parameters=(INTERVIEW_ID,),
            success=ok(obj({"items": array(ref("Slot")),
                            "window_end": string("Last day of the window (Asia/Shanghai).",
                                                 format="date")}), "The slots."),
            errors=(*INTERVIEW_404, err(NotReschedulable), err(RescheduleDeadlinePassed)))},
        "/interviews/{public_id}/reschedule": {"post": operation(
            "rescheduleInterview", "Move to another slot", tag=interviews, auth="candidate",
            description="A confirmed interview goes back to `scheduled`.",
            parameters=(INTERVIEW_ID,), idempotent=True, body=ref("RescheduleRequest"),
            success=ok(obj({"interview": ref("Interview"),
                            "previous_scheduled_at": date_time()}), "Moved.",
                       replayable=True),
            errors=(*INTERVIEW_404, err(NotReschedulable), err(RescheduleDeadlinePassed),
                    err(InterviewChanged), err(SlotFull), *STRING_FIELDS, err(SlotInvalid)))},
        "/subscriptions/templates": {"get": operation(
            "subscriptionTemplates", "Template ids to pass to wx.requestSubscribeMessage",
            tag=subs, auth="login",
            description="`scene=cancel` (default): before the 确认取消 tap; `scene=schedule`: "
                        "when viewing or confirming an interview. Unknown scenes are ignored.",
            parameters=({"name": "scene", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ["cancel", "schedule"]}},),
            success=ok(obj({"template_ids": array(string(), maxItems=3)}), "At most 3."))},
        "/subscriptions": {"post": operation(
            "recordSubscriptions", "Record wx.requestSubscribeMessage results", tag=subs,
            auth="login", body=ref("SubscriptionResults"),
            success=ok(obj({"recorded": integer(minimum=1, maximum=3),
                            "credits_granted": integer("One per `accept`.", minimum=0,
                                                       maximum=3)}), "Recorded."),
            errors=(INVALID_JSON, FIELD_INVALID))},
        "/notifications/{open_token}/open": {"post": operation(
            "openNotification", "The candidate opened a message", tag=other,
            auth="candidate", parameters=(OPEN_TOKEN,),
            success=ok(obj({"opened": {"const": True}, "first_opened_at": date_time(),
                            "open_count": integer(minimum=1),
                            "interview_id": nullable(string())}), "Marked read."),
            errors=(err(NotificationNotFound), NO_ROUTE))},
        "/feedback": {"post": operation(
            "submitFeedback", "Feedback to HR", tag=other, auth="candidate",
            body=ref("FeedbackRequest"),
            success=ok(obj({"id": integer(), "received_at": date_time()}), "Received.",
                       status=201),
            errors=(*STRING_FIELDS, INTERVIEW_NOT_FOUND))},
        "/openapi.json": {"get": operation(
            "openapi", "This document", tag=other, auth=None,
            success=ok({"type": "object", "required": ["openapi", "info", "paths"]},
                       "OpenAPI 3.1 document."))},
    }


@cache
def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI 面试候选人小程序 API",
            "version": VERSION,
            "description": "JSON API behind the candidates' WeChat mini program. Times are "
                           "ISO 8601 with the Asia/Shanghai offset. Every error is an HTTP "
                           "status with `{\"error\": {\"code\", \"message\", \"details\"}}`; "
                           "`message` is Chinese text for people, `code` is for programs.",
        },
        "servers": [{"url": BASE_PATH}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": "auth"}, {"name": "interviews"}, {"name": "subscriptions"},
                 {"name": "other"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "The `token` from POST /auth/login."}},
            "parameters": {"IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Makes a retry safe: the same key (per user, 24 h) replays the "
                               "first response instead of acting again.",
                "schema": {"type": "string", "maxLength": 100}}},
            "schemas": _schemas(),
        },
    }


def document() -> dict:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
