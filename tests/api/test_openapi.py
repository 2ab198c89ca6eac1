"""GET /api/mp/v1/openapi.json: a valid OpenAPI 3.1 document that covers every route of the
blueprint and matches what the server does.

1. the document is valid OpenAPI 3.1 (meta-schema, JSON Schema 2020-12, refs resolve);
2. every route of the blueprint is described with its method, and nothing else;
3. a walk through every endpoint's success (and main error) responses, validated by
   schemathesis against the document, on both backends;
4. a property-based schemathesis run against the live server (random and semi-realistic
   data, logged in or not): no 5xx, and every status, content type, body and header as
   documented;
5. reproducers of the server bugs that run found (strict xfail until fixed).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import jsonschema_rs
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31

from tests.factories import API, mp_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
MAX_EXAMPLES = 25  # per operation and generation mode (positive, negative)
UNLIMITED = (100000, 60)
STRANGER = "openapi-stranger"  # a WeChat user bound to no candidate


def _spec(client) -> dict:
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def _walk_schemas(node):
    """Every JSON Schema object in the document (components, parameters, bodies, responses)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield value
            elif key == "schemas" and isinstance(value, dict):
                yield from value.values()
            else:
                yield from _walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_schemas(value)


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


# --- 1. the document itself ----------------------------------------------------------------

def test_document_is_valid_openapi_31(client):
    doc = _spec(client)
    assert doc["openapi"].startswith("3.1.")
    # The OpenAPI 3.1 meta-schema (as bundled by schemathesis: it leaves schemas out) ...
    jsonschema_rs.validate(OPENAPI_31, doc)
    # ... and every schema object against the JSON Schema 2020-12 meta-schema.
    schemas = list(_walk_schemas(doc))
    assert len(schemas) > 40
    for schema in schemas:
        jsonschema_rs.meta.validate(schema)
    refs = set(_refs(doc))
    assert refs
    for target in refs:
        _, section, kind, name = target.split("/")
        assert section == "components" and name in doc["components"][kind], target
    # schemathesis accepts it as well (it validates on load)
    schemathesis.openapi.from_dict(doc).validate()


def test_document_is_public(client):
    r = client.get(f"{API}/openapi.json")  # no Authorization header
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["servers"] == [{"url": API}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert doc["paths"]["/auth/login"]["post"]["security"] == []


# --- 2. every route, and nothing else ------------------------------------------------------

def test_every_route_of_the_blueprint_is_described(app, client):
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("mp_api."):
            continue
        assert rule.rule.startswith(API)
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(API):])
        # Flask adds HEAD and OPTIONS to every rule by itself
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    doc = _spec(client)
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert len(routes) >= 15
    assert described - routes == set(), "described but not served"
    assert routes - described == set(), "served but not described"


def test_every_error_response_lists_its_codes(client):
    doc = _spec(client)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema["allOf"] == [{"$ref": "#/components/schemas/Error"}]
                codes = schema["properties"]["error"]["properties"]["code"]["enum"]
                assert codes, (method, path, status)
                for code in codes:
                    assert f"`{code}`" in response["description"], (method, path, code)
            if op.get("security") != []:
                assert "session_invalid" in str(op["responses"]["401"]), (method, path)
            if "requestBody" in op:
                assert "invalid_json" in str(op["responses"]["422"]), (method, path)


# --- shared set-up for the live runs -------------------------------------------------------

def _fresh_interview(app, public_id: str) -> None:
    """Back to `scheduled`, confirmable and cancellable, whatever happened to it."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Interview, InterviewStatus

    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        iv.status = InterviewStatus.SCHEDULED
        iv.status_before_request = None
        iv.confirmed_at = iv.cancelled_at = None
        iv.confirm_by = iv.scheduled_at - timedelta(hours=1)
        db.session.commit()


def _prepare(app, demo) -> dict:
    """What random data would never guess, for the candidate under test: their interview
    (made fresh), an invitation token, a message's open token, and two open slots
    inside the rescheduling window."""
    from sqlalchemy import select

    from app.core.timeutil import SHANGHAI, utcnow
    from app.extensions import db
    from app.models import Interview, InterviewSession
    from app.services.candidates import binding
    from app.services.interviews import reschedule as rescheduling
    from app.services.notifications import outbox

    cand = demo["candidates"][0]
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == cand["interview_ids"][0])).one()
        invite = binding.create_invite(cand["id"])
        message = outbox.enqueue(event="openapi-test", kind="candidate_cancel_confirmed",
                                 recipient_type="candidate", recipient_id=cand["id"],
                                 interview=iv, context=outbox.interview_context(iv))
        last_day = rescheduling.slot_window(utcnow()).end_day  # a working day
        slots = []
        for hour in (10, 14):
            starts = datetime.combine(last_day, datetime.min.time(), SHANGHAI).replace(
                hour=hour)
            slot = InterviewSession(position_id=iv.position_id, starts_at=starts,
                                    ends_at=starts + timedelta(hours=2), capacity=1000,
                                    booked=0)
            db.session.add(slot)
            slots.append(slot)
        db.session.commit()
        known = {"candidate": cand, "interview_id": iv.public_id, "invite": invite,
                 "open_token": message.open_token, "slots": [str(s.id) for s in slots]}
    _fresh_interview(app, known["interview_id"])
    return known


def _slot_offers(app, known: dict) -> list[str]:
    """Two open offers for the candidate under test (issue 11 §4-5), on sessions of two
    positions of their own ten days ahead (so booking one clashes with nothing)."""
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.models import InterviewSession, OfferKind, Position, SlotOffer

    with app.app_context():
        ids = []
        for k in range(2):
            position = Position(title=f"候补岗位{k}", department="技术部", level="P5")
            starts = utcnow() + timedelta(days=10 + k)
            session = InterviewSession(position=position, starts_at=starts,
                                       ends_at=starts + timedelta(hours=1), capacity=5,
                                       booked=0)
            db.session.add_all([position, session])
            db.session.flush()
            offer = SlotOffer(kind=OfferKind.PROMISE, candidate_id=known["candidate"]["id"],
                              position_id=position.id, session_id=session.id,
                              expires_at=utcnow() + timedelta(days=2))
            db.session.add(offer)
            db.session.flush()
            ids.append(offer.public_id)
        db.session.commit()
    return ids


# --- 3. every success response, deterministically ------------------------------------------

def test_every_endpoint_answers_as_documented(app, demo, live_url):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OutboxMessage

    app.config["RATE_LIMITS"] = {}
    known = _prepare(app, demo)
    schema = schemathesis.openapi.from_url(f"{live_url}{API}/openapi.json")
    http = requests.Session()
    seen: set[tuple[str, str, int]] = set()

    def call(method, path, status, *, token=None, body=None, headers=None, **params):
        op = schema[path][method]
        case = op.Case(path_parameters=params, headers=headers or {},
                       **({"body": body} if body is not None else {}))
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        r = case.call_and_validate(session=http, headers=auth, checks=CHECKS, timeout=15)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        seen.add((method.lower(), path, status))
        return r.json() if r.content else None

    iv_id, tpl = known["interview_id"], app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
    call("GET", "/openapi.json", 200)
    body = call("POST", "/auth/login", 200,
                body={"code": f"sandbox:{known['candidate']['openid']}"})
    token = body["token"]
    assert body["bound"] is True and body["candidate"]["name"]
    stranger = call("POST", "/auth/login", 200, body={"code": f"sandbox:{STRANGER}"})
    assert stranger["bound"] is False and stranger["candidate"] is None
    call("POST", "/auth/login", 401, body={"code": "not-a-wx-code"})
    call("POST", "/auth/login", 422, body={})

    call("GET", "/subscriptions/templates", 200, token=token)
    call("POST", "/subscriptions", 200, token=token, body={"results": {tpl: "accept"}})
    call("GET", "/interviews", 401)
    call("GET", "/interviews", 403, token=stranger["token"])
    items = call("GET", "/interviews", 200, token=token)["items"]
    assert [i["id"] for i in items] == [iv_id]
    call("GET", "/cancel-reasons", 200, token=token)
    call("GET", "/interviews/{public_id}", 404, token=token, public_id="iv_nobody")
    call("POST", "/interviews/{public_id}/confirm", 200, token=token, public_id=iv_id)
    slots = call("GET", "/interviews/{public_id}/reschedule-slots", 200, token=token,
                 public_id=iv_id)["items"]
    assert {s["slot_id"] for s in slots} >= set(known["slots"])
    moved = call("POST", "/interviews/{public_id}/reschedule", 200, token=token,
                 public_id=iv_id, body={"slot_id": known["slots"][0]},
                 headers={"Idempotency-Key": "move-1"})
    assert moved["interview"]["status"] == "scheduled"
    replayed = call("POST", "/interviews/{public_id}/reschedule", 200, token=token,
                    public_id=iv_id, body={"slot_id": known["slots"][0]},
                    headers={"Idempotency-Key": "move-1"})
    assert replayed == moved
    call("POST", "/interviews/{public_id}/reschedule", 422, token=token, public_id=iv_id,
         body={"slot_id": "0"})
    call("POST", "/feedback", 201, token=token,
         body={"content": "面试官很专业", "interview_id": iv_id})
    # personal data (miniprogram_api.privacy): the request stays pending (HR or the deadline)
    held = call("GET", "/privacy/data", 200, token=token)
    assert held["interviews"] and held["erasure_request"] is None
    call("GET", "/privacy/data/export", 200, token=token)
    call("POST", "/privacy/erasure-request", 201, token=token)
    call("POST", "/privacy/erasure-request", 200, token=token)
    # slot offers (miniprogram_api.offers): one accepted (and replayed), one declined
    offer_ids = _slot_offers(app, known)
    listed = call("GET", "/offers", 200, token=token)["items"]
    assert {o["id"] for o in listed} == set(offer_ids)
    booked = call("POST", "/offers/{offer_id}/accept", 200, token=token, offer_id=offer_ids[0],
                  headers={"Idempotency-Key": "offer-1"})
    assert booked["interview"]["status"] == "scheduled"
    assert call("POST", "/offers/{offer_id}/accept", 200, token=token, offer_id=offer_ids[0],
                headers={"Idempotency-Key": "offer-1"}) == booked
    call("POST", "/offers/{offer_id}/accept", 409, token=token, offer_id=offer_ids[0])
    call("POST", "/offers/{offer_id}/decline", 200, token=token, offer_id=offer_ids[1])
    call("POST", "/offers/{offer_id}/decline", 404, token=token, offer_id="of_nobody")
    with app.app_context():
        open_token = db.session.scalars(select(OutboxMessage.open_token).where(
            OutboxMessage.recipient_type == "candidate",
            OutboxMessage.interview_id.is_not(None))).first()
    opened = call("POST", "/notifications/{open_token}/open", 200, token=token,
                  open_token=open_token)
    assert opened["interview_id"] == iv_id
    call("POST", "/notifications/{open_token}/open", 404, token=token, open_token="nope")
    call("POST", "/interviews/{public_id}/cancel", 422, token=token, public_id=iv_id,
         body={"reason_code": "other"})
    done = call("POST", "/interviews/{public_id}/cancel", 200, token=token, public_id=iv_id,
                body={"reason_code": "personal"}, headers={"Idempotency-Key": "cancel-1"})
    assert done["status"] in ("cancelled", "cancel_pending")
    call("POST", "/interviews/{public_id}/cancel", 200, token=token, public_id=iv_id,
         body={"reason_code": "personal"}, headers={"Idempotency-Key": "cancel-1"})
    call("POST", "/interviews/{public_id}/cancel", 409, token=token, public_id=iv_id,
         body={"reason_code": "personal"})
    call("POST", "/interviews/{public_id}/cancel-request/detail", 409, token=token,
         public_id=iv_id, body={"note": "补充"})  # HR asked for nothing
    with app.app_context():  # HR's 要求补充说明 on an open request (as approvals leave it)
        from app.models import Cancellation, CancellationState, CancelReason, Interview

        interview = db.session.scalars(select(Interview).where(
            Interview.public_id == iv_id)).one()
        reason = db.session.scalars(select(CancelReason).where(
            CancelReason.code == "personal")).one()
        db.session.add(Cancellation(interview_id=interview.id, actor_type="candidate",
                                    actor_id=interview.candidate_id, reason_id=reason.id,
                                    state=CancellationState.DETAIL_REQUESTED,
                                    detail_question="请说明具体原因"))
        db.session.commit()
    answered = call("POST", "/interviews/{public_id}/cancel-request/detail", 200, token=token,
                    public_id=iv_id, body={"note": "家中有事，需要回老家一周"})
    assert answered["interview"]["detail_requested"] is None
    call("POST", "/interviews/{public_id}/confirm", 409, token=token, public_id=iv_id)
    call("GET", "/interviews/{public_id}/reschedule-slots", 409, token=token,
         public_id=iv_id)
    detail = call("GET", "/interviews/{public_id}", 200, token=token, public_id=iv_id)
    types = {e["type"] for e in detail["timeline"]}
    # (no "confirmed": rescheduling cleared the confirmation, and the timeline shows the
    # interview's current confirmed_at only)
    assert {"scheduled", "rescheduled", "message_read",
            "cancelled" if done["status"] == "cancelled" else "cancel_requested"} <= types

    call("POST", "/auth/bind", 200, token=token, body={"invite_token": known["invite"]})
    call("POST", "/auth/bind", 422, token=stranger["token"], body={"invite_token": "nope"})
    call("POST", "/auth/bind", 404, token=stranger["token"],
         body={"phone_code": "sandbox-phone:13000000000"})
    app.config["RATE_LIMITS"] = {"bind": {"user": (1, 60)}}
    call("POST", "/auth/bind", 429, token=stranger["token"], body={"invite_token": "nope"})
    call("POST", "/auth/logout", 204, token=token)
    call("GET", "/interviews", 401, token=token)

    documented = {(m, p) for p, item in schema.raw_schema["paths"].items() for m in item}
    assert {(m, p) for m, p, s in seen if s < 300} == documented


# --- 4. property-based run ----------------------------------------------------------------

def _realistic(case, known: dict, level: int) -> None:
    """Replace some generated values by real ones (level 0: keep everything random)."""
    if level == 0:
        return
    params = case.path_parameters or {}
    if "public_id" in params:
        params["public_id"] = known["interview_id"]
    if "open_token" in params:
        params["open_token"] = known["open_token"]
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if "interview_id" in body:
        body["interview_id"] = known["interview_id"]
    if level >= 2:
        if "code" in body:
            body["code"] = f"sandbox:{known['candidate']['openid'] if level == 2 else STRANGER}"
        if "phone_code" in body and "invite_token" not in body:
            body["phone_code"] = "sandbox-phone:13000000000"
        if "reason_code" in body:
            body["reason_code"] = "personal" if level == 2 else "other"
        if "slot_id" in body:
            body["slot_id"] = known["slots"][level % 2]
        if "invite_token" in body:
            body["invite_token"] = known["invite"]
            body.pop("phone_code", None)


WHO = st.sampled_from(["candidate"] * 6 + ["stranger", "forged", "anonymous"])
LEVEL = st.sampled_from([0, 0, 1, 2, 3])  # see _realistic


def _fuzz(operation, mode: GenerationMode, send) -> None:
    """MAX_EXAMPLES reproducible cases for one operation, sent as one of WHO."""
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), who=WHO, level=LEVEL)
    def run(case, who, level):
        send(operation, case, who, level)

    run()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_spec_violation(app, backend, demo,
                                                                   live_url):
    # Runs on both backends (about 30 s each): the services backend is what production
    # runs, and SQLite is what `make run` and most developers use.
    app.config["RATE_LIMITS"] = {scope: {"ip": UNLIMITED, "user": UNLIMITED}
                                 for scope in ("login", "bind", "cancel")}
    schema = schemathesis.openapi.from_url(f"{live_url}{API}/openapi.json")
    known = _prepare(app, demo)
    openids = {"candidate": known["candidate"]["openid"], "stranger": STRANGER}
    tokens = {"candidate": mp_token(live_url, openids["candidate"]),
              "stranger": mp_token(live_url, STRANGER),
              "forged": "forged-or-expired-token", "anonymous": None}
    http = requests.Session()
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    started = time.monotonic()

    def send(operation, case, who: str, level: int) -> None:
        _realistic(case, known, level)
        token = tokens[who]
        if operation.path == "/auth/logout" and who in openids:
            token = mp_token(live_url, openids[who])  # keep the shared tokens valid
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call_and_validate(session=http, headers=headers, checks=CHECKS,
                                          timeout=15)
        statuses.setdefault(operation.label, set()).add(response.status_code)

    # (loaded from its URL, schemathesis leaves GET /openapi.json itself out; the walk
    # above covers it)
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fresh_interview(app, known["interview_id"])
            try:
                _fuzz(operation, mode, send)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                failures[f"{operation.label} [{mode.value}]"] = str(exc)[:4000]

    elapsed = time.monotonic() - started
    print(f"\nschemathesis on {backend.name}: {elapsed:.1f}s")
    for label, codes in sorted(statuses.items()):
        print(f"  {label}: {sorted(codes)}")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    # the run reached every operation, and success as well as errors on most of them
    assert len(statuses) == len(operations) >= 14
    successes = [label for label, codes in statuses.items() if min(codes) < 300]
    assert len(successes) >= 12, statuses


# --- 5. regressions: inputs the first schemathesis run found answered with 5xx ------------

NUL_BUG = "PostgreSQL rejects U+0000 in text: the query raises ValueError -> 500"
SURROGATE_BUG = "a lone UTF-16 surrogate cannot be encoded as UTF-8 -> 500"
SLOT_OVERFLOW_BUG = "SQLite: slot_id beyond 64-bit integers raises OverflowError -> 500"
LOGIN_CODE_BUG = ("a login code that cannot be sent to WeChat (lone surrogate) is answered "
                  "503 service_unavailable instead of 401/422")

# (method, path, raw JSON body, the bug it once was)
BUG_REPRODUCERS = [
    ("POST", "/feedback", '{"content": "a\\u0000b"}', NUL_BUG),
    ("POST", "/feedback", '{"content": "a", "interview_id": "x\\u0000"}', NUL_BUG),
    ("POST", "/interviews/{iv}/cancel", '{"reason_code": "a\\u0000"}', NUL_BUG),
    ("POST", "/subscriptions", '{"results": {"tpl\\u0000": "accept"}}', NUL_BUG),
    ("GET", "/interviews/iv%00x", None, NUL_BUG),
    ("POST", "/notifications/a%00b/open", None, NUL_BUG),
    ("POST", "/feedback", '{"content": "\\ud800"}', SURROGATE_BUG),
    ("POST", "/interviews/{iv}/cancel", '{"reason_code": "other", "note": "\\ud800"}',
     SURROGATE_BUG),
    ("POST", "/subscriptions", '{"results": {"\\ud800": "accept"}}', SURROGATE_BUG),
    ("POST", "/auth/bind", '{"phone_code": "\\ud800"}', SURROGATE_BUG),
    ("POST", "/auth/bind", '{"invite_token": "\\ud800"}', SURROGATE_BUG),
    ("POST", "/interviews/{iv}/reschedule", '{"slot_id": "99999999999999999999"}',
     SLOT_OVERFLOW_BUG),
    ("POST", "/auth/login", '{"code": "\\ud800"}', LOGIN_CODE_BUG),
]


@pytest.mark.parametrize("method,path,body,bug", BUG_REPRODUCERS,
                         ids=[f"{m} {p} {b}" for m, p, b, _ in BUG_REPRODUCERS])
def test_former_server_bug_is_a_documented_4xx(app, demo, live_url, method, path, body, bug):
    known = _prepare(app, demo)
    schema = schemathesis.openapi.from_url(f"{live_url}{API}/openapi.json")
    token = mp_token(live_url, known["candidate"]["openid"])
    url = f"{live_url}{API}{path.replace('{iv}', known['interview_id'])}"
    r = requests.request(method, url, data=body.encode() if body else None, timeout=15,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (bug, r.text)
    # and the answer is a documented one
    template = re.sub(r"/interviews/[^/]+", "/interviews/{public_id}",
                      re.sub(r"/notifications/[^/]+", "/notifications/{open_token}", path))
    documented = schema.raw_schema["paths"][template.replace("{iv}", "{public_id}")]
    assert str(r.status_code) in documented[method.lower()]["responses"]
