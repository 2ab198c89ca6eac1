"""The interview state machine lives on the model and refuses invalid transitions."""
from datetime import UTC, datetime, timedelta

import pytest

from app.models import Interview, InterviewStatus, InvalidTransition
from app.models.interview import TRANSITIONS

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
S = InterviewStatus
ACTIONS = {
    S.CONFIRMED: lambda iv: iv.confirm(NOW),
    S.CANCEL_PENDING: lambda iv: iv.request_cancel(),
    S.CANCELLED: lambda iv: iv.cancel(NOW),
    S.COMPLETED: lambda iv: iv.complete(),
}


def _interview(status):
    return Interview(number="AI-2026-11-22-001", status=status,
                     scheduled_at=NOW + timedelta(days=1), duration_minutes=30)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(ACTIONS))
def test_transition_matrix(current, target):
    iv = _interview(current)
    if target in TRANSITIONS[current]:
        ACTIONS[target](iv)
        assert iv.status == target
    else:
        with pytest.raises(InvalidTransition):
            ACTIONS[target](iv)
        assert iv.status == current


def test_rejected_request_returns_to_previous_status():
    iv = _interview(S.CONFIRMED)
    iv.request_cancel()
    assert iv.status == S.CANCEL_PENDING
    iv.reject_cancel_request()
    assert iv.status == S.CONFIRMED


def test_cancel_deadline():
    iv = _interview(S.SCHEDULED)
    assert iv.candidate_can_cancel(NOW, 2)
    assert not iv.candidate_can_cancel(iv.scheduled_at - timedelta(hours=1), 2)
    iv.status = S.CANCELLED
    assert not iv.candidate_can_cancel(NOW, 2)
