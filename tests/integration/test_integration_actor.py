"""The integration actor (an API key) as the policy sees it: company-side, with the
permissions its scopes give, in its departments; a revoked key may do nothing."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.models import ActorType, InterviewStatus
from app.services.cancellation.policy import PermissionDenied, can_cancel, decide_cancel
from app.services.interviews.errors import InterviewNotFound, InvalidReason
from app.services.users.actor import Actor
from tests.unit.policy_cast import NOW, SPEC
from tests.unit.test_cancel_policy import CANDIDATE_REASON, COMPANY_REASON, _rules, interview


def _key(scopes=("interviews:read", "interviews:write"), departments=(), revoked=False,
         key_id=5):
    return Actor.integration(SimpleNamespace(id=key_id, name="ATS", prefix="aiik_abcdefg",
                                             scopes=list(scopes),
                                             departments=list(departments),
                                             revoked_at=NOW if revoked else None))


def test_a_key_cancels_as_the_company_with_a_company_reason():
    actor = _key()
    assert actor.type == ActorType.INTEGRATION and actor.is_company and not actor.is_hr
    decision = decide_cancel(interview("scheduled", "early"), actor, COMPANY_REASON, None,
                             _rules("refuse"), NOW)
    assert decision.status == InterviewStatus.CANCELLED
    assert decision.event == "company_cancelled" and decision.event_type == "interview.cancelled"
    # the team is told, all of it: a key's id is no HR user's (an HR user who cancels
    # is left out of their own messages; a key whose id equals the recruiter's is not)
    same_id = _key(key_id=SPEC)
    told = decide_cancel(interview("scheduled", "early"), same_id, COMPANY_REASON, None,
                         _rules("refuse"), NOW).recipients
    assert any(r.recipient_id == SPEC and r.recipient_type != "candidate" for r in told)
    with pytest.raises(InvalidReason):
        decide_cancel(interview("scheduled", "early"), actor, CANDIDATE_REASON, None,
                      _rules("refuse"), NOW)


def test_scopes_give_permissions_and_a_revoked_key_none():
    reader = _key(scopes=("interviews:read",))
    assert reader.can("view") and not reader.can("cancel")
    with pytest.raises(PermissionDenied):
        decide_cancel(interview("scheduled", "early"), reader, COMPANY_REASON, None,
                      _rules("refuse"), NOW)
    assert not can_cancel(interview("scheduled", "early"), reader, _rules("refuse"), NOW)
    revoked = _key(revoked=True)
    assert revoked.permissions == frozenset()
    assert not revoked.sees("tech", None)


def test_departments_bound_what_a_key_sees():
    sales = _key(departments=("sales",))
    assert sales.sees("sales", None) and not sales.sees("tech", None)
    with pytest.raises(InterviewNotFound):  # the policy interviews are of "tech"
        decide_cancel(interview("scheduled", "early"), sales, COMPANY_REASON, None,
                      _rules("refuse"), NOW)
    assert _key().departments is None and _key().sees("tech", None)
