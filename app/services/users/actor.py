"""Who acts, and what they may see and do: the one place for roles and data scope.

Admin: everything. Recruiting manager: everything in their departments, batch cancel,
level-2 approvals. Recruiting specialist: view, single cancel, level-1 approvals, in their
departments. Interviewer: read-only, their own interviews. A candidate acts on their own
interviews only (the readers select by candidate); a system job acts everywhere.

Services take an Actor (views build it from the logged-in user and pass it in); queries
narrow their statements with `interview_scope(actor)`, so a list never shows what the
detail page would answer 404 for.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, true

from app.models import ActorType, HrUser, Interview, Position, Role
from app.models.hr import PERMISSIONS


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: int | None = None
    role: Role | None = None
    permissions: frozenset[str] = frozenset()
    departments: frozenset[str] | None = None   # None: every department
    rule: str | None = None                     # the rule a system job applies
    name: str | None = None

    @classmethod
    def candidate(cls, candidate_id: int) -> Actor:
        return cls(ActorType.CANDIDATE, candidate_id)

    @classmethod
    def hr(cls, user: HrUser) -> Actor:
        departments = None if user.role == Role.ADMIN else frozenset(user.departments)
        return cls(ActorType.HR, user.id, user.role,
                   PERMISSIONS.get(user.role, frozenset()) if user.active else frozenset(),
                   departments, name=user.display_name)

    @classmethod
    def system(cls, rule: str) -> Actor:
        return cls(ActorType.SYSTEM, None, rule=rule, name="系统")

    @property
    def is_hr(self) -> bool:
        return self.type == ActorType.HR

    def can(self, permission: str) -> bool:
        """Role permission: HR by role; system jobs may do what their rule needs."""
        if self.type == ActorType.SYSTEM:
            return True
        return permission in self.permissions

    def sees(self, department: str, interviewer_id: int | None) -> bool:
        """Whether an interview of this department (and interviewer) is in scope."""
        if self.type != ActorType.HR:
            return True
        if not self.permissions:
            return False
        if self.role == Role.INTERVIEWER:
            return interviewer_id is not None and interviewer_id == self.id
        return self.departments is None or department in self.departments


def interview_scope(actor: Actor):
    """The SQL condition (over Interview joined with Position) equal to Actor.sees."""
    if actor.type != ActorType.HR:
        return true()
    if not actor.permissions:
        return false()
    if actor.role == Role.INTERVIEWER:
        return Interview.interviewer_id == actor.id
    if actor.departments is None:
        return true()
    if not actor.departments:
        return false()
    return Position.department.in_(sorted(actor.departments))
