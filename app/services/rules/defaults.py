"""What a fresh install starts with: the default cancel reasons (the scenarios of the
product brief: candidate-side and company-side) and the default rules. `flask setup` and
the demo seed both use this one list."""
from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from app.extensions import db
from app.models import CancelReason, ReasonActor, Setting
from app.services import audit
from app.services.rules.store import RULES_KEY, get_rules

DEFAULT_CANCEL_REASONS = [
    # code, label, category, actor, requires_note
    ("time_conflict", "时间冲突", "candidate_initiated", ReasonActor.CANDIDATE, False),
    ("found_other_job", "已找到其他工作", "candidate_initiated", ReasonActor.CANDIDATE, False),
    ("personal", "个人原因", "candidate_initiated", ReasonActor.CANDIDATE, False),
    ("other", "其他", "candidate_initiated", ReasonActor.CANDIDATE, True),
    ("position_paused", "岗位暂停招聘", "position_change", ReasonActor.COMPANY, False),
    ("position_filled", "岗位已招满", "position_change", ReasonActor.COMPANY, False),
    ("resume_mismatch", "简历与岗位要求不符", "candidate_mismatch", ReasonActor.COMPANY, False),
    ("system_failure", "系统故障", "technical", ReasonActor.COMPANY, False),
]


def add_default_reasons() -> list[str]:
    """Add each default reason whose code is not there yet (an existing reason, edited or
    retired by HR, is left as it is). Returns the codes added; the caller commits."""
    existing = set(db.session.scalars(select(CancelReason.code)))
    added = []
    for order, (code, label, category, actor, note) in enumerate(DEFAULT_CANCEL_REASONS,
                                                                 start=1):
        if code in existing:
            continue
        db.session.add(CancelReason(code=code, label=label, category=category, actor=actor,
                                    requires_note=note, sort_order=order * 10, active=True))
        added.append(code)
    return added


def store_default_rules() -> dict | None:
    """Write the rules in force (the defaults, from configuration) as the settings row when
    there is none, so HR sees and edits real values. Returns what was stored, or None
    when rules were stored already; the caller commits."""
    if db.session.get(Setting, RULES_KEY) is not None:
        return None
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(get_rules()).items()}
    db.session.add(Setting(key=RULES_KEY, value=values))
    return values


def install_defaults() -> dict:
    """A fresh install's reasons and rules, idempotent: running it again adds nothing.
    Audited (as the system) when it added something. One transaction."""
    reasons = add_default_reasons()
    rules = store_default_rules()
    if reasons or rules is not None:
        db.session.flush()
        audit.record(actor_type="system", actor_id=None, action="settings.defaults_installed",
                     object_type="settings", object_id=None,
                     data={"rule": "install_defaults", "before": None,
                           "after": {"reasons": reasons, "rules": rules}})
    db.session.commit()
    return {"reasons": reasons, "rules": rules}
