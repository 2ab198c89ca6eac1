"""Who is told of each interview event, and with which message kind: the one list.

Every writer (candidate cancel, HR cancel, batch, system jobs, approvals, rescheduling)
asks here; nothing else names recipients. Pure: it reads the facts it is given.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol


class _Position(Protocol):
    recruiter_id: int | None
    hiring_manager_id: int | None


class _Interview(Protocol):
    interviewer_id: int | None
    position: _Position


@dataclass(frozen=True)
class Recipient:
    kind: str              # message kind (templates_msg)
    recipient_type: str    # "candidate" / "hr_user"
    recipient_id: int


# event -> (candidate's message kind or None, staff message kind or None, staff roles)
# staff roles: "team" = recruiter and hiring manager; "interviewer".
EVENTS: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {
    "candidate_cancelled": ("candidate_cancel_confirmed", "staff_candidate_cancelled",
                            ("recruiter", "hiring_manager", "interviewer")),
    "cancel_requested": ("candidate_cancel_requested", "staff_approval_needed",
                         ("recruiter", "hiring_manager")),
    "company_cancelled": ("candidate_cancelled_by_company", "staff_interview_cancelled",
                          ("recruiter", "hiring_manager", "interviewer")),
    "system_cancelled": ("candidate_cancelled_by_company", "staff_interview_cancelled",
                         ("recruiter", "hiring_manager", "interviewer")),
    "cancel_approved": ("candidate_cancel_approved", "staff_interview_cancelled",
                        ("recruiter", "hiring_manager", "interviewer")),
    "cancel_rejected": ("candidate_cancel_rejected", None, ()),
    # level 1 approved on a two-level request: the hiring manager decides level 2
    "second_level_needed": (None, "staff_approval_needed", ("hiring_manager",)),
    "detail_requested": ("candidate_detail_requested", None, ()),
    "detail_answered": (None, "staff_approval_needed", ("recruiter", "hiring_manager")),
    # a candidate could not be told: the recruiter (admins when there is none: the caller)
    "notification_failed": (None, "staff_notification_failed", ("recruiter",)),
    "rescheduled": ("candidate_rescheduled", "staff_interview_rescheduled",
                    ("recruiter", "hiring_manager", "interviewer")),
}
STAFF_ROLES = ("candidate", "recruiter", "hiring_manager", "interviewer")
STAFF_ROLE_LABELS = {"candidate": "候选人", "recruiter": "招聘负责人",
                     "hiring_manager": "用人经理", "interviewer": "面试官"}


def staff_of(interview: _Interview, roles) -> list[int]:
    """HR user ids holding these roles for the interview, without repeats."""
    position = interview.position
    by_role = {"recruiter": position.recruiter_id,
               "hiring_manager": position.hiring_manager_id,
               "interviewer": interview.interviewer_id}
    return list(dict.fromkeys(by_role[r] for r in roles if by_role.get(r) is not None))


def recipients(event: str, interview: _Interview, candidate_id: int, *,
               notify: frozenset[str] | None = None, exclude_user: int | None = None,
               staff: bool = True) -> list[Recipient]:
    """The messages of `event`: the candidate's first, then one per staff member.
    `notify` narrows to the roles HR chose (None: all of the event's); `exclude_user` is
    the HR user who acted (they know); `staff=False` leaves staff out (a batch tells each
    staff member once, in a summary)."""
    candidate_kind, staff_kind, roles = EVENTS[event]
    out = []
    if candidate_kind and (notify is None or "candidate" in notify):
        out.append(Recipient(candidate_kind, "candidate", candidate_id))
    if staff_kind and staff:
        position = interview.position
        out += _staff(event, None if notify is None else frozenset(notify), exclude_user,
                      position.recruiter_id, position.hiring_manager_id,
                      interview.interviewer_id)
    return out


@lru_cache(maxsize=1024)
def _staff(event: str, notify: frozenset[str] | None, exclude_user: int | None,
           recruiter_id: int | None, hiring_manager_id: int | None,
           interviewer_id: int | None) -> tuple[Recipient, ...]:
    """The staff messages of `event` for one team (cached: the interviews of a batch or a
    job share a few teams; Recipient is immutable)."""
    _candidate_kind, staff_kind, roles = EVENTS[event]
    chosen = [r for r in roles if notify is None or r in notify]
    team = _Team(interviewer_id, _TeamPosition(recruiter_id, hiring_manager_id))
    return tuple(Recipient(staff_kind, "hr_user", user_id)
                 for user_id in staff_of(team, chosen) if user_id != exclude_user)


@dataclass(frozen=True)
class _TeamPosition:
    recruiter_id: int | None
    hiring_manager_id: int | None


@dataclass(frozen=True)
class _Team:
    interviewer_id: int | None
    position: _TeamPosition
