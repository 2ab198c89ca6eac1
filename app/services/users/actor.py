"""Who acts, and what they may see and do: the one place for roles and data scope.

Admin: everything. Recruiting manager: everything in their departments, batch cancel,
level-2 approvals. Recruiting specialist: view, single cancel, level-1 approvals, in their
departments. Interviewer: read-only, their own interviews. A candidate acts on their own
interviews only (the readers select by candidate); a system job acts everywhere. An
integration (an API key of /api/integration/v1) acts for the company: the permissions its
scopes give, in the key's departments (none listed: every department).

Services take an Actor (views build it from the logged-in user and pass it in); queries
narrow their statements with `interview_scope(actor)`, so a list never shows what the
detail page would answer 404 for.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import false, true

from app.models import ActorType, HrUser, Interview, Position, Role
from app.models.hr import PERMISSIONS

# What each API key scope lets the integration do (Actor.can).
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "interviews:read": frozenset({"view"}),
    # batch_cancel: what upserts by external id require (upsert.WRITE_PERMISSION); the
    # integration API offers no batch cancel.
    "interviews:write": frozenset({"view", "cancel", "batch_cancel", "report_outcome"}),
    "reports:read": frozenset({"reports"}),
}


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: int | None = None
    role: Role | None = None
    permissions: frozenset[str] = frozenset()
    departments: frozenset[str] | None = None   # None: every department
    rule: str | None = None                     # the rule a system job applies
    name: str | None = None
    ip: str | None = None                       # where the request came from (audit log)
    request_id: str | None = None               # the request acting (X-Request-Id): on rows

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

    @classmethod
    def integration(cls, key) -> Actor:
        """An API key (app.models.ApiKey) acting for the company; a revoked key may do
        nothing. `id` is the key's id (what the audit log and cancellations record)."""
        permissions = frozenset() if key.revoked_at is not None else frozenset().union(
            *(SCOPE_PERMISSIONS.get(scope, frozenset()) for scope in key.scopes or ()))
        departments = frozenset(key.departments) if key.departments else None
        return cls(ActorType.INTEGRATION, key.id, None, permissions, departments,
                   name=f"接口密钥 {key.name}（{key.prefix}）")

    def from_ip(self, ip: str | None) -> Actor:
        """This actor acting from that client address (what audit entries record)."""
        return replace(self, ip=ip)

    def in_request(self, request_id: str | None) -> Actor:
        """This actor acting in that request: the rows it queues (outbox messages, webhook
        deliveries) and its audit entries carry the id, so one grep follows it."""
        return replace(self, request_id=request_id)

    @property
    def is_hr(self) -> bool:
        return self.type == ActorType.HR

    @property
    def is_company(self) -> bool:
        """HR users and API keys: company-side reasons, permissions and department scope."""
        return self.type.is_company

    def can(self, permission: str) -> bool:
        """Role permission: HR by role; system jobs may do what their rule needs."""
        if self.type == ActorType.SYSTEM:
            return True
        return permission in self.permissions

    def sees(self, department: str, interviewer_id: int | None) -> bool:
        """Whether an interview of this department (and interviewer) is in scope."""
        if not self.is_company:
            return True
        if not self.permissions:
            return False
        if self.role == Role.INTERVIEWER:
            return interviewer_id is not None and interviewer_id == self.id
        return self.departments is None or department in self.departments


def interview_scope(actor: Actor):
    """The SQL condition (over Interview joined with Position) equal to Actor.sees."""
    if actor.is_company and actor.permissions and actor.role == Role.INTERVIEWER:
        return Interview.interviewer_id == actor.id
    return department_scope(actor)


def department_scope(actor: Actor, position=Position):
    """The department part of interview_scope, over `position` (Position or an alias of
    it): the positions whose interviews the actor may see any of. An interviewer's scope
    is by interviewer, not department: every position (interview_scope narrows further)."""
    if not actor.is_company:
        return true()
    if not actor.permissions:
        return false()
    if actor.role == Role.INTERVIEWER or actor.departments is None:
        return true()
    if not actor.departments:
        return false()
    return position.department.in_(sorted(actor.departments))
