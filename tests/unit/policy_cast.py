"""The people of the policy table tests (cancel and approval): one candidate, HR users of
department "tech" and "sales", two interviewers, a system job; built as the services see
them (Actor.hr of an HrUser, so roles, permissions and departments are the real ones)."""
from __future__ import annotations

from datetime import UTC, datetime

from app.models import HrUser, Role
from app.services.users.actor import Actor

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

CANDIDATE = 7
SPEC, MANAGER, ADMIN = 11, 12, 13            # department "tech" (admin: every department)
SPEC_OTHER, MANAGER_OTHER = 14, 15           # department "sales" only
INTERVIEWER, OTHER_INTERVIEWER = 21, 22


def _hr(user_id: int, role: Role, *departments: str) -> Actor:
    return Actor.hr(HrUser(id=user_id, username=f"u{user_id}", display_name=f"u{user_id}",
                           role=role, active=True, departments=list(departments)))


ACTORS = {
    "candidate": Actor.candidate(CANDIDATE),
    "spec": _hr(SPEC, Role.RECRUITING_SPECIALIST, "tech"),
    "spec_other": _hr(SPEC_OTHER, Role.RECRUITING_SPECIALIST, "sales"),
    "manager": _hr(MANAGER, Role.RECRUITING_MANAGER, "tech", "sales"),
    "manager_other": _hr(MANAGER_OTHER, Role.RECRUITING_MANAGER, "sales"),
    "admin": _hr(ADMIN, Role.ADMIN),
    "iv_own": _hr(INTERVIEWER, Role.INTERVIEWER, "tech"),
    "iv_other": _hr(OTHER_INTERVIEWER, Role.INTERVIEWER, "tech"),
    "system": Actor.system("auto_cancel_unconfirmed"),
}
