"""GET /api/integration/v1/openapi.json: valid OpenAPI 3.1, every route of the blueprint
documented (and nothing else), every success and main error answered as documented, and a
property-based schemathesis run against the live server that finds no 5xx."""
from __future__ import annotations

import re
import time
from datetime import timedelta

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

from app.core.timeutil import utcnow
from app.models import OutboxStatus
from tests import factories
from tests.integration.conftest import BASE

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
MAX_EXAMPLES = 25
UNLIMITED = (100000, 60)


def _spec(client) -> dict:
    r = client.get(f"{BASE}/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def test_document_is_valid_openapi_31(client):
    doc = _spec(client)
    assert doc["openapi"].startswith("3.1.")
    jsonschema_rs.validate(OPENAPI_31, doc)
    schemathesis.openapi.from_dict(doc).validate()
    assert doc["servers"] == [{"url": BASE}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_route_of_the_blueprint_is_documented(app, client):
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("integration_api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(BASE):])
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    doc = _spec(client)
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert len(routes) >= 10
    assert described - routes == set(), "described but not served"
    assert routes - described == set(), "served but not described"


def test_every_error_response_lists_its_codes_and_writes_take_an_idempotency_key(client):
    doc = _spec(client)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]
                code = schema["properties"]["error"]["properties"]["code"]
                open_422 = status == "422" and method == "put"
                assert open_422 or code["enum"], (method, path, status)
                for value in code.get("enum", ()):
                    assert f"`{value}`" in response["description"], (method, path, value)
            if op["security"] != []:
                assert {"api_key_required", "api_key_invalid"} <= set(
                    op["responses"]["401"]["content"]["application/json"]["schema"]
                    ["properties"]["error"]["properties"]["code"]["enum"])
                assert "scope_missing" in str(op["responses"]["403"])
            if method in ("put", "post"):
                assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"]
                assert "invalid_json" in str(op["responses"]["422"])


def _known(app, make_key) -> dict:
    """What random data would not guess: keys, an interview that can be cancelled, one
    whose outcome can be reported, a company reason, a message."""
    from app.models import ReasonActor

    factories.cancel_reason(app, "position_filled", label="岗位已招满",
                            category="position_change", actor=ReasonActor.COMPANY)
    factories.position(app, "产品经理", department="技术部", level="P7", external_id="pos-1")
    factories.candidate(app, "赵六", external_ref="cand-x")
    iv = factories.interview(app, "AI-2030-01-01-001", external_id="iv-1")
    past = factories.interview(app, "AI-2020-01-01-001", external_id="iv-past",
                               scheduled_at=utcnow() - timedelta(hours=2))
    factories.outbox_message(app, iv.id, status=OutboxStatus.READ, read_at=utcnow())
    return {"writer": make_key(), "reader": make_key(scopes=("interviews:read",),
                                                     name="reader"),
            "sales": make_key(departments=("销售部",), name="sales"),
            "iv": iv, "past": past}


def test_every_endpoint_answers_as_documented(app, live_url, make_key):
    app.config["RATE_LIMITS"] = {}
    known = _known(app, make_key)
    schema = schemathesis.openapi.from_url(f"{live_url}{BASE}/openapi.json")
    http = requests.Session()
    seen: set[tuple[str, str, int]] = set()

    def call(method, path, status, *, key="writer", body=None, headers=None, query=None,
             **params):
        op = schema[path][method]
        case = op.Case(path_parameters=params, headers=headers or {}, query=query or {},
                       **({"body": body} if body is not None else {}))
        auth = {"Authorization": f"Bearer {known[key].secret}"} if key else {}
        r = case.call_and_validate(session=http, headers=auth, checks=CHECKS, timeout=15)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        seen.add((method.lower(), path, status))
        return r.json() if r.content else None

    call("GET", "/openapi.json", 200, key=None)
    call("GET", "/cancel-reasons", 200)
    call("GET", "/cancel-reasons", 401, key=None)
    call("PUT", "/positions/{external_id}", 200, external_id="pos-1",
         body={"title": "产品经理", "department": "技术部", "level": "P7"})
    call("PUT", "/positions/{external_id}", 201, external_id="pos-2",
         body={"title": "测试工程师", "department": "技术部", "level": "P5"})
    call("PUT", "/positions/{external_id}", 403, key="reader", external_id="pos-2",
         body={"title": "测试工程师", "department": "技术部", "level": "P5"})
    call("PUT", "/positions/{external_id}", 422, external_id="pos-3", body={"title": ""})
    call("PUT", "/sessions/{external_id}", 201, external_id="s-1",
         body={"position_external_id": "pos-2", "starts_at": "2030-02-01 09:00",
               "ends_at": "2030-02-01 12:00", "capacity": 5})
    call("PUT", "/sessions/{external_id}", 200, external_id="s-1",
         body={"position_external_id": "pos-2", "starts_at": "2030-02-01 09:00",
               "ends_at": "2030-02-01 12:00", "capacity": 6})
    cand = call("PUT", "/candidates/{external_id}", 201, external_id="c-1",
                body={"name": "王伟", "phone": "13900139000"})
    assert cand["invite"]["token"]
    call("PUT", "/candidates/{external_id}", 200, external_id="c-1",
         body={"name": "王伟", "phone": "13900139000"})
    call("PUT", "/interviews/{ref}", 201, ref="iv-2",
         body={"candidate_external_id": "c-1", "position_external_id": "pos-2",
               "session_external_id": "s-1", "scheduled_at": "2030-02-01 10:00"})
    call("PUT", "/interviews/{ref}", 200, ref="iv-2",
         body={"candidate_external_id": "c-1", "position_external_id": "pos-2",
               "session_external_id": "s-1", "scheduled_at": "2030-02-01 10:30"})
    record = call("GET", "/interviews/{ref}", 200, ref="iv-1")
    assert record["notifications"][0]["status"] == "read"
    call("GET", "/interviews/{ref}", 404, key="sales", ref="iv-1")
    call("POST", "/interviews/{ref}/cancel", 422, ref="iv-1", body={"reason_code": "nope"})
    call("POST", "/interviews/{ref}/cancel", 403, key="reader", ref="iv-1",
         body={"reason_code": "position_filled"})
    done = call("POST", "/interviews/{ref}/cancel", 200, ref="iv-1",
                body={"reason_code": "position_filled"}, headers={"Idempotency-Key": "c1"})
    assert done["interview"]["cancellation"]["cancelled_by"] == "company"
    call("POST", "/interviews/{ref}/cancel", 200, ref="iv-1",
         body={"reason_code": "position_filled"}, headers={"Idempotency-Key": "c1"})
    call("POST", "/interviews/{ref}/cancel", 409, ref="iv-1",
         body={"reason_code": "position_filled"})
    call("PUT", "/interviews/{ref}", 409, ref="iv-1",
         body={"candidate_external_id": "c-1", "position_external_id": "pos-2",
               "scheduled_at": "2030-02-01 10:00"})
    call("POST", "/interviews/{ref}/outcome", 200, ref="iv-past", body={"outcome": "no_show"})
    call("POST", "/interviews/{ref}/outcome", 409, ref="iv-past",
         body={"outcome": "completed"})
    call("POST", "/interviews/{ref}/outcome", 422, ref="iv-past", body={"outcome": "x"})
    with app.app_context():
        from app.services.audit import seal

        seal.seal_pending()
    page = call("GET", "/changes", 200, query={"cursor": 0, "limit": 2})
    assert page["has_more"] is True and len(page["items"]) == 2
    call("GET", "/changes", 422, query={"limit": 0})
    report = call("GET", "/reports/cancellations", 200)
    assert report["by_initiator"] == {"company": 1}
    call("GET", "/reports/cancellations", 403, key="reader")
    call("GET", "/reports/cancellations", 422, query={"date_from": "2026-02-30"})
    known["fresh"] = make_key(name="fresh", scopes=("interviews:read",))
    app.config["RATE_LIMITS"] = {"integration": {"key": (1, 60)}}
    call("GET", "/changes", 200, key="fresh")
    call("GET", "/changes", 429, key="fresh")

    documented = {(m, p) for p, item in schema.raw_schema["paths"].items() for m in item}
    assert {(m, p) for m, p, s in seen if s < 300} == documented


WHO = st.sampled_from(["writer"] * 5 + ["reader", "sales", "forged", "anonymous"])
LEVEL = st.sampled_from([0, 0, 1, 2])


def _realistic(case, level: int) -> None:
    """Replace some generated values by real ones (level 0: keep everything random)."""
    if level == 0:
        return
    params = case.path_parameters or {}
    if "ref" in params:
        params["ref"] = "iv-1" if level == 1 else "iv-past"
    if "external_id" in params and level == 2:
        params["external_id"] = "pos-1"
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if "reason_code" in body:
        body["reason_code"] = "position_filled"
    for name in ("position_external_id", "candidate_external_id"):
        if name in body:
            body[name] = "pos-1" if name.startswith("position") else "cand-x"
    if level == 2:  # values that pass the field checks
        realistic = {"phone": "13800138000", "starts_at": "2030-01-01 09:00",
                     "ends_at": "2030-01-01 12:00", "capacity": 5,
                     "scheduled_at": "2030-01-01 10:00"}
        body.update({k: v for k, v in realistic.items() if k in body})
        if "candidate_external_id" in body:  # an interview: only the required fields
            for name in ("session_external_id", "interviewer_username", "number",
                         "join_url", "confirm_by", "duration_minutes"):
                body.pop(name, None)


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
def test_schemathesis_finds_no_server_error_and_no_spec_violation(app, backend, live_url,
                                                                   make_key):
    app.config["RATE_LIMITS"] = {"integration": {"ip": UNLIMITED, "key": UNLIMITED},
                                 "integration_write": {"key": UNLIMITED}}
    known = _known(app, make_key)
    schema = schemathesis.openapi.from_url(f"{live_url}{BASE}/openapi.json")
    tokens = {"writer": known["writer"].secret, "reader": known["reader"].secret,
              "sales": known["sales"].secret, "forged": "aiik_" + "f" * 40,
              "anonymous": None}
    http = requests.Session()
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    started = time.monotonic()

    def send(operation, case, who: str, level: int) -> None:
        _realistic(case, level)
        token = tokens[who]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call_and_validate(session=http, headers=headers, checks=CHECKS,
                                          timeout=15)
        statuses.setdefault(operation.label, set()).add(response.status_code)

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, send)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                failures[f"{operation.label} [{mode.value}]"] = str(exc)[:4000]

    print(f"\nschemathesis on {backend.name}: {time.monotonic() - started:.1f}s")
    for label, codes in sorted(statuses.items()):
        print(f"  {label}: {sorted(codes)}")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert len(statuses) == len(operations) >= 9
    successes = [label for label, codes in statuses.items() if min(codes) < 300]
    assert len(successes) >= 7, statuses  # (the walk above reaches every success)
