"""重新邀请: a new WeChat binding invitation for a candidate (after 解除微信绑定, or when
the first one was lost), shown once on the page that answers the POST."""
from __future__ import annotations

from flask import abort, render_template
from flask_wtf import FlaskForm

from app.console import bp
from app.console.views import current_actor, permission_required
from app.queries.interviews.console import candidate_id_of
from app.services.candidates.invitations import reinvite_candidate


class ReinviteForm(FlaskForm):
    """No fields: carries the CSRF token of 重新邀请."""


@bp.post("/interviews/<public_id>/reinvite")
@permission_required("rebind")
def reinvite(public_id: str):
    """Create a new invitation for this interview's candidate and show its link and QR
    scene this once (only the token's hash is kept)."""
    actor = current_actor()
    candidate_id = candidate_id_of(public_id, actor)
    if candidate_id is None:
        abort(404)
    if not ReinviteForm().validate_on_submit():
        abort(400)
    invitation = reinvite_candidate(candidate_id, actor=actor)
    return render_template("console/invitation_once.html", invitation=invitation,
                           public_id=public_id)
