"""Feedback from candidates to HR."""
from __future__ import annotations

from app.core.errors import ValidationFailed
from app.extensions import db
from app.models import Feedback
from app.queries.interviews.candidate import load_candidate_interview
from app.services import audit

MAX_LENGTH = 1000


def submit_feedback(*, candidate_id: int, content: str, interview_public_id: str | None = None,
                    ip: str | None = None) -> Feedback:
    """Store the text for HR, tied to the candidate's own interview when one is given."""
    content = (content or "").strip()
    if not content:
        raise ValidationFailed("请填写反馈内容", code="field_required",
                               details={"field": "content"})
    if len(content) > MAX_LENGTH:
        raise ValidationFailed(f"反馈内容最多{MAX_LENGTH}个字", code="field_too_long",
                               details={"field": "content", "max_length": MAX_LENGTH})
    interview_id = None
    if interview_public_id:
        interview_id = load_candidate_interview(candidate_id, interview_public_id).id
    item = Feedback(candidate_id=candidate_id, interview_id=interview_id, content=content)
    db.session.add(item)
    db.session.flush()
    audit.record(actor_type="candidate", actor_id=candidate_id, action="feedback.submitted",
                 object_type="interview" if interview_id else "candidate",
                 object_id=interview_id or candidate_id, data={"feedback_id": item.id},
                 ip=ip)
    db.session.commit()
    return item
