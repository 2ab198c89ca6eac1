"""Fault injection: make the sandbox answer like WeChat on a bad day.

A fault is a dict with optional keys:
    openid          only calls for this openid (the send's touser, the login's openid)
    api             only this API (see APIS); none: every API
    errcode/errmsg  answer this error instead of the real answer
    latency_ms      sleep this long before answering
    times           fire this many times, then disappear (none: until cleared)
    delivery_status status of the delivery event pushed for a message (e.g. "failed:user block")
    expire_tokens   true: every token issued so far becomes expired (applied once, at creation)

When several faults match a call, per-openid faults win over global ones, then the older
wins; exactly one fault fires per call (API calls: faults with an errcode or a latency;
delivery pushes: faults with a delivery_status). Each firing uses one of its `times`.
"""
from __future__ import annotations

from app.wechat.sandbox import state, tokens

APIS = ("token", "stable_token", "jscode2session", "subscribe_send", "template_send",
        "getuserphonenumber", "menu_create",
        "qrcode_create", "custom_send")  # HR binding QR codes, replies (oa_service.py)
MAX_LATENCY_MS = 60_000


class FaultError(ValueError):
    """The fault specification is invalid."""


def _faults_key() -> str:
    return state.key("faults")


def _times_key(fault_id: int) -> str:
    return state.key("fault-times", fault_id)


def _validate(spec: dict) -> dict:
    fault: dict = {}
    for name in ("openid", "api", "errmsg", "delivery_status"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise FaultError(f"{name} must be a non-empty string")
        fault[name] = value
    if fault["api"] is not None and fault["api"] not in APIS:
        raise FaultError("api must be one of " + ", ".join(APIS))
    for name, low in (("errcode", None), ("latency_ms", 0), ("times", 1)):
        value = spec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or (low is not None and value < low)):
            bound = f" >= {low}" if low is not None else ""
            raise FaultError(f"{name} must be an integer{bound}")
        fault[name] = value
    if fault["latency_ms"] is not None and fault["latency_ms"] > MAX_LATENCY_MS:
        raise FaultError(f"latency_ms must be at most {MAX_LATENCY_MS}")
    if fault["errcode"] == 0:
        raise FaultError("errcode 0 is success: leave errcode out instead")
    fault["expire_tokens"] = bool(spec.get("expire_tokens"))
    if not any((fault["errcode"], fault["latency_ms"], fault["delivery_status"],
                fault["expire_tokens"])):
        raise FaultError("a fault needs errcode, latency_ms, delivery_status or expire_tokens")
    return fault


def add(spec: dict) -> dict:
    """Store a fault (applying expire_tokens at once) and return it with its id."""
    fault = _validate(spec)
    fault["id"] = int(state.r().incr(state.key("fault-seq")))
    fault["created_at"] = state.now()
    if fault["expire_tokens"]:
        tokens.expire_all()
    pipe = state.r().pipeline()
    if fault["times"] is not None:
        pipe.set(_times_key(fault["id"]), fault["times"])
    pipe.hset(_faults_key(), str(fault["id"]), state.dump(fault))
    pipe.execute()
    return fault


def list_all() -> list[dict]:
    items = [state.load(raw) for raw in state.r().hgetall(_faults_key()).values()]
    items.sort(key=lambda f: f["id"])
    for fault in items:
        if fault["times"] is not None:
            left = state.r().get(_times_key(fault["id"]))
            fault["remaining"] = max(int(left), 0) if left is not None else 0
    return items


def clear() -> None:
    state.r().delete(_faults_key())
    state.delete_matching(state.key("fault-times", "*"))


def _remove(fault_id: int) -> None:
    state.r().hdel(_faults_key(), str(fault_id))
    state.r().delete(_times_key(fault_id))


def _consume(fault: dict) -> bool:
    """Use one of the fault's `times`; False when another call used the last one."""
    if fault["times"] is None:
        return True
    left = state.r().decr(_times_key(fault["id"]))
    if left <= 0:
        _remove(fault["id"])
    return left >= 0


def _candidates(api: str, openid: str | None) -> list[dict]:
    matching = []
    for fault in list_all():
        if fault["api"] is not None and fault["api"] != api and \
                not (fault["api"] == "token" and api == "stable_token"):
            continue
        if fault["openid"] is not None and fault["openid"] != openid:
            continue
        matching.append(fault)
    # per-openid faults first, then by age
    matching.sort(key=lambda f: (f["openid"] is None, f["id"]))
    return matching


def fire(api: str, openid: str | None) -> dict | None:
    """The fault that applies to this API call (its times used), or None."""
    for fault in _candidates(api, openid if isinstance(openid, str) else None):
        if (fault["errcode"] is not None or fault["latency_ms"]) and _consume(fault):
            return fault
    return None


def delivery_status(api: str, openid: str | None) -> str | None:
    """The delivery status a fault imposes on the push for this message, or None."""
    for fault in _candidates(api, openid):
        if fault["delivery_status"] and _consume(fault):
            return fault["delivery_status"]
    return None
