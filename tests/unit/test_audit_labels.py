"""Every audit action written anywhere in the application has a Chinese label; data
values read as words (statuses, reasons, roles), never as codes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.models import InterviewStatus
from app.services.audit import labels

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("app", "miniprogram_api", "wechat_handlers")
           for p in (ROOT / d).rglob("*.py")]
LITERAL = re.compile(r"""\baction\s*=\s*["']([a-z_]+\.[a-z_.]+)["']""")
# A module's own audit helper called with the code: _audit(actor, "webhook.created", ...)
HELPER_LITERAL = re.compile(r"""\b_audit\([^,()]+,\s*["']([a-z_]+\.[a-z_.]+)["']""")
# The demo history's helper: self._entry(actor_type, actor_id, "interview.cancelled", ...)
ENTRY_LITERAL = re.compile(r"""\b_entry\([^,()]+,[^,()]+,\s*["']([a-z_]+\.[a-z_.]+)["']""")
# The audit writes (record, entry_row, entry_params) and what they are given as action.
AUDIT_CALL = re.compile(r"\b(?:audit\.record|record|entry_row|entry_params)\(")
COMPUTED = re.compile(r"""\baction=(?!["'])(f["']|[A-Za-z_][\w.]*)""")
# Where an audit write's action is computed, and how this test finds the codes it takes.
COMPUTED_IN = {
    "app/services/cancellation/write.py",      # decision.event_type: policy's literals
    "app/services/integration/interviews.py",  # f"interview.{outcome}": OUTCOMES
    "app/services/integration/upsert.py",      # f"{kind}.created|updated": _audit(actor, kind
    "app/services/webhooks/endpoints.py",      # _audit(actor, "webhook....", ...)
    # issue 11 §4-5: each module's _audit(x, "code", ...) helper (HELPER_LITERAL)
    "app/services/interviews/promises.py",
    "app/services/backfill/offers.py",
    "app/services/backfill/places.py",
    "app/services/backfill/waitlist.py",
    "app/cli/demo_history.py",                 # self._entry(actor, id, "code", ...)
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def written_actions() -> set[str]:
    found = set()
    for path in SOURCES:
        if "services/audit" in _relative(path):
            continue
        found.update(LITERAL.findall(_text(path)))
        found.update(HELPER_LITERAL.findall(_text(path)))
        found.update(ENTRY_LITERAL.findall(_text(path)))
    policy = _text(ROOT / "app/services/cancellation/policy.py")
    found.update(re.findall(r'"(interview\.[a-z_]+)"', policy))
    outcomes = ROOT / "app/services/integration/interviews.py"
    if outcomes.exists():
        block = re.search(r"OUTCOMES\s*=\s*\{([^}]*)\}", _text(outcomes))
        found.update(f"interview.{k}" for k in re.findall(r'"([a-z_]+)"\s*:', block.group(1)))
    upsert = ROOT / "app/services/integration/upsert.py"
    if upsert.exists():
        for kind in re.findall(r'_audit\(actor, "([a-z_]+)"', _text(upsert)):
            found.update({f"{kind}.created", f"{kind}.updated"})
    return found


def test_the_scan_finds_the_actions_of_every_path():
    actions = written_actions()
    assert {"interview.cancelled", "interview.cancel_requested", "interview.cancel_approved",
            "batch.created", "hr_user.signed_in", "candidate.unbound"} <= actions


def test_every_computed_action_is_understood_by_this_test():
    """A new place computing its action must teach written_actions() its codes."""
    computed = {_relative(p) for p in SOURCES if "services/audit" not in _relative(p)
                and any(COMPUTED.search(_text(p)[m.end():m.end() + 400])
                        for m in AUDIT_CALL.finditer(_text(p)))}
    assert computed <= COMPUTED_IN, computed - COMPUTED_IN


def test_every_action_written_in_app_has_a_chinese_label():
    missing = sorted(a for a in written_actions() if a not in labels.ACTION_LABELS)
    assert not missing, f"add these to app/services/audit/labels.py ACTION_LABELS: {missing}"


@pytest.mark.parametrize("code,label", sorted(labels.ACTION_LABELS.items()))
def test_labels_are_chinese_and_not_codes(code, label):
    assert re.search(r"[\u4e00-\u9fff]", label) and "." not in label and "_" not in label


def test_labels_tell_actions_apart():
    values = list(labels.ACTION_LABELS.values())
    assert len(values) == len(set(values))


def test_an_unknown_action_is_marked_not_passed_off():
    assert labels.action_label("interview.cancelled") == "取消面试"
    assert labels.action_label("x.y") == "其他操作（x.y）"


@pytest.mark.parametrize("status", list(InterviewStatus))
def test_status_values_read_as_interview_status_labels(status):
    assert labels.value_text("status", status.value) == status.label


def test_values_read_as_words():
    assert labels.value_text("active", True) == "是"
    assert labels.value_text("note", None) == "（空）"
    assert labels.value_text("role", "recruiting_manager") == "招聘经理"
    assert labels.value_text("rule", "auto_cancel_unconfirmed") == "逾期未确认自动取消"
    assert labels.value_text("after_deadline", "request") == "提交HR审批"
    assert labels.value_text("refused", "invalid_credentials") == "用户名或密码错误"
    found = labels.Lookups({"time_conflict": "时间冲突"}, {3: "个人原因"})
    assert labels.value_text("reason", "time_conflict", found) == "时间冲突"
    assert labels.value_text("reason_id", 3, found) == "个人原因"


def test_changes_read_before_and_after_field_by_field():
    data = {"reason": "time_conflict", "before": {"status": "scheduled"},
            "after": {"status": "cancelled"}}
    assert labels.changes(data) == [labels.Change("状态", "待确认", "已取消")]
    assert ("原因", "时间冲突") in labels.details(
        data, labels.Lookups({"time_conflict": "时间冲突"}))
    assert labels.changes({"from_text": "2026年12月01日 10:00",
                           "to_text": "2026年12月02日 10:00"}) == [
        labels.Change("面试时间", "2026年12月01日 10:00", "2026年12月02日 10:00")]
    rules = labels.changes({"before": {"cancel_deadline_hours": 2},
                            "after": {"cancel_deadline_hours": 4}})
    assert rules == [labels.Change("候选人自助取消截止（面试前小时数）", "2", "4")]


def test_reason_labels_come_from_the_companys_reasons(app):
    from app.extensions import db
    from tests import factories

    factories.cancel_reason(app, "family_matter", label="家中有事")
    with app.app_context():
        found = labels.Lookups.load()
        db.session.rollback()
    assert labels.value_text("reason", "family_matter", found) == "家中有事"
