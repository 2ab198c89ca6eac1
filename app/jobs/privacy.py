"""Job: personal data lifecycle. Erasure requests whose deadline has come are carried
out (the candidate's interviews not over yet ended first by the cancellation core, the
team told: system.cancel_for_erasure), then candidates whose process ended more than the
retention period ago are anonymised, in batches (each batch its own transaction).
Idempotent: done candidates are never picked again."""
from __future__ import annotations

from datetime import datetime

from app.core.timeutil import utcnow

BATCH = 200
MAX_BATCHES = 50  # per run: a large backlog is worked off over several runs


def run(now: datetime | None = None) -> int:
    from app.extensions import db
    from app.models import ErasureRequest
    from app.services.cancellation.system import cancel_for_erasure
    from app.services.candidates import anonymise as erase
    from app.services.candidates.privacy import get_privacy_rules

    now = now or utcnow()

    def requests() -> int | None:
        ids = erase.due_requests(now, BATCH)
        if not ids:
            return None
        done = 0
        for request_id in ids:
            candidate_id = db.session.get(ErasureRequest, request_id).candidate_id
            db.session.commit()
            # Interviews not over yet end first, in their own transaction, the team told
            # (erased, they would stay scheduled for nobody): the cancellation core's.
            cancel_for_erasure(candidate_id, now)
            request = db.session.get(ErasureRequest, request_id, with_for_update=True)
            done += erase.anonymise(request.candidate_id, now, trigger="request",
                                    request=request)
        return done

    def retention() -> int | None:
        ids = erase.due_for_retention(now, get_privacy_rules().retention_days, BATCH)
        if not ids:
            return None
        return sum(erase.anonymise(cid, now, trigger="retention") for cid in ids)

    return _batches(requests) + _batches(retention)


def _batches(batch) -> int:
    """Run `batch` until it finds nothing, each its own transaction. A batch that lost a
    race to another worker (its commit refused) is rolled back and read again."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from app.extensions import db

    done = 0
    for _ in range(MAX_BATCHES):
        try:
            count = batch()
            db.session.commit()
        except (IntegrityError, OperationalError):
            db.session.rollback()
            continue
        if count is None:
            break
        done += count
    return done
