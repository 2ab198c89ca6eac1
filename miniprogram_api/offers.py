"""Candidate API v1: slot offers (issue 11 §4-5): a new slot promised after the company
cancelled, or a freed place from the waiting list. List, accept (first come: one booking
per place, never over capacity), decline. Another candidate's offer answers 404."""
from __future__ import annotations

from flask import g, jsonify

from app.core.idempotency import idempotent
from app.core.ratelimit import client_ip
from app.core.timeutil import iso, utcnow
from app.queries.interviews import candidate as queries
from app.services.backfill import offers
from miniprogram_api import bp, serializers
from miniprogram_api.auth import candidate_required


def offer_json(view: offers.OfferView) -> dict:
    return {"id": view.public_id, "kind": view.kind.value, "kind_label": view.kind.label,
            "state": view.state.value, "state_label": view.state.label,
            "position": {"title": view.position_title, "department": view.department},
            "starts_at": iso(view.starts_at), "ends_at": iso(view.ends_at),
            "expires_at": iso(view.expires_at), "interview_id": view.interview_public_id}


@bp.get("/offers")
@candidate_required
def list_offers():
    return jsonify(items=[offer_json(v) for v in offers.candidate_offers(g.candidate_id)])


@bp.post("/offers/<offer_id>/accept")
@candidate_required
@idempotent
def accept_offer(offer_id: str):
    outcome = offers.accept(g.candidate_id, offer_id, ip=client_ip())
    iv = queries.load_candidate_interview(g.candidate_id, outcome.interview_public_id)
    return jsonify(offer=offer_json(outcome.offer), interview=serializers.interview(iv, utcnow()))


@bp.post("/offers/<offer_id>/decline")
@candidate_required
@idempotent
def decline_offer(offer_id: str):
    return jsonify(offer=offer_json(offers.decline(g.candidate_id, offer_id, ip=client_ip())))


# --- OpenAPI (merged into the document by miniprogram_api.spec) --------------------------

def openapi_block() -> tuple[dict, dict]:
    from app.models import OfferKind, OfferState
    from app.services.backfill import errors
    from app.services.interviews.errors import InterviewNotFound
    from miniprogram_api.openapi import (
        NO_ROUTE,
        RATE_LIMITED,
        date_time,
        err,
        nullable,
        obj,
        ok,
        operation,
        path_param,
        ref,
        string,
    )

    schemas = {"Offer": obj({
        "id": string("Opaque offer id (`of_...`).", examples=["of_Qm9vZ3VzSWRfMDE"]),
        "kind": string("`promise`: the new slot promised after the company cancelled; "
                       "`backfill`: a freed place offered from the waiting list.",
                       enum=[k.value for k in OfferKind]),
        "kind_label": string(examples=["候补补位"]),
        "state": string(enum=[s.value for s in OfferState]),
        "state_label": string(examples=["待回复"]),
        "position": ref("Position"),
        "starts_at": date_time(), "ends_at": date_time(),
        "expires_at": date_time("The offer (and a backfill offer's held place) lapses then."),
        "interview_id": nullable(string("The interview booked by accepting (else null).")),
    })}
    offer_id = path_param("offer_id", "Opaque offer id from GET /offers; another "
                                      "candidate's offer answers 404.")
    not_found = (err(errors.OfferNotFound), err(InterviewNotFound), NO_ROUTE)
    closed = (err(errors.OfferTaken), err(errors.OfferExpired), err(errors.OfferDeclined),
              err(errors.OfferAccepted))
    tag = "offers"
    paths = {
        "/offers": {"get": operation(
            "listOffers", "Slots offered to me", tag=tag, auth="candidate",
            success=ok(obj({"items": {"type": "array", "items": ref("Offer"),
                                      "description": "Open offers, soonest slot first."}}),
                       "The open offers."))},
        "/offers/{offer_id}/accept": {"post": operation(
            "acceptOffer", "Book the offered slot", tag=tag, auth="candidate",
            description="First come: when several candidates were offered one place, the "
                        "first to accept gets it and the others hear `offer_taken`; a slot "
                        "never goes over its capacity. Refused when the candidate already "
                        "has an interview of that position or at that time.",
            parameters=(offer_id,), idempotent=True,
            success=ok(obj({"offer": ref("Offer"), "interview": ref("Interview")}),
                       "Booked.", replayable=True),
            errors=(*not_found, *closed, err(errors.AlreadyBooked), RATE_LIMITED))},
        "/offers/{offer_id}/decline": {"post": operation(
            "declineOffer", "Turn the offer down", tag=tag, auth="candidate",
            description="A backfill place goes to the next waiting candidate.",
            parameters=(offer_id,), idempotent=True,
            success=ok(obj({"offer": ref("Offer")}), "Declined.", replayable=True),
            errors=(*not_found, *closed, RATE_LIMITED))},
    }
    return paths, schemas
