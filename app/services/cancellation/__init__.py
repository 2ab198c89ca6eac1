"""Cancelling interviews, for every initiator: policy (pure decisions), facts (readers),
write (SQL), commands (the use cases) and batch (preview, confirm, run)."""
from app.services.cancellation.commands import (  # noqa: F401
    CancelOutcome,
    answer_detail,
    approve,
    ask_for_detail,
    cancel_by_candidate,
    cancel_by_hr,
    candidate_can_cancel,
    hr_can_cancel,
    reject,
)
