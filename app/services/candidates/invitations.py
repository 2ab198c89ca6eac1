"""Invitations: what a candidate receives to bind WeChat (the mini-program page link and
the scene of its QR code), built on binding.create_invite (one-time token, hash stored).

The scene of a mini-program QR code (wxacode.getUnlimited) holds at most 32 characters:
the token (token_urlsafe(24)) is exactly 32 URL-safe characters, so the scene IS the token
and the mini program posts it as /auth/bind {invite_token}. The link is the page path
with the same token, for a message or a URL link.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.core import crypto
from app.core.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Candidate, Interview, InviteToken, Position
from app.services import audit
from app.services.candidates.binding import bound_account, create_invite
from app.services.users.actor import Actor

# The mini-program page that reads the token and calls /auth/bind.
BIND_PAGE = "pages/bind/index"


@dataclass(frozen=True)
class Invitation:
    candidate_id: int
    token: str          # shown once; only its hash is stored
    expires_at: datetime

    @property
    def scene(self) -> str:
        """The QR code's scene value (wxacode.getUnlimited `scene`)."""
        return self.token

    @property
    def link(self) -> str:
        """The mini-program page path carrying the token."""
        return f"{BIND_PAGE}?invite_token={self.token}"


def issue_invitation(candidate_id: int) -> Invitation:
    """A new invitation for this candidate (flushed, not committed: the caller commits)."""
    token = create_invite(candidate_id)
    digest = crypto.token_hash(token)
    row = next(obj for obj in db.session.new
               if isinstance(obj, InviteToken) and obj.token_hash == digest)
    db.session.flush()
    return Invitation(candidate_id, token, row.expires_at)


class CandidateNotFound(NotFound):
    code = "candidate_not_found"
    message = "未找到该候选人"


class CandidateAlreadyBound(Forbidden):
    status = 409
    code = "candidate_already_bound"
    message = "该候选人已绑定微信，请先解除微信绑定再重新邀请"


def reinvite_candidate(candidate_id: int, *, actor: Actor) -> Invitation:
    """HR re-invites a candidate whose WeChat binding was removed: a new one-time token
    (older unused ones still work until they expire). Needs `rebind` and the candidate's
    interviews in the actor's scope; refused while a WeChat account is still bound."""
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None:
        raise CandidateNotFound()
    if not actor.can("rebind"):
        raise Forbidden()
    pairs = db.session.execute(select(Position.department, Interview.interviewer_id)
                               .join(Interview, Interview.position_id == Position.id)
                               .where(Interview.candidate_id == candidate_id)).all()
    if not any(actor.sees(dept, interviewer) for dept, interviewer in pairs):
        raise CandidateNotFound()
    if bound_account(candidate_id) is not None:
        raise CandidateAlreadyBound()
    invitation = issue_invitation(candidate_id)
    audit.record(actor_type=actor.type, actor_id=actor.id, action="candidate.reinvited",
                 object_type="candidate", object_id=candidate_id, ip=actor.ip,
                 data={"expires_at": invitation.expires_at.isoformat()})
    db.session.commit()
    return invitation
