"""Console settings: integration API keys (admins). Create (the key is shown once), list
with scopes, departments and last use, revoke. The rules live in
app.services.integration.keys."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import Length

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.errors import NotFound, ValidationFailed
from app.services.integration import keys


class ApiKeyForm(FlaskForm):
    name = StringField("名称", validators=[Length(max=keys.NAME_MAX_LENGTH,
                                                message="名称不超过100个字")])
    scopes = SelectMultipleField("权限范围",
                                 validate_choice=False)
    departments = StringField("部门（用逗号分隔，留空为全部部门）",
                              validators=[Length(max=1000)])


class RevokeForm(FlaskForm):
    """撤销: no fields; the form exists for its CSRF token."""


def _page(form: ApiKeyForm, error: ValidationFailed | None = None, status: int = 200):
    rows = keys.list_keys(actor=current_actor())
    return render_template("console/settings/api_keys.html", rows=rows, form=form,
                           revoke_form=RevokeForm(), scope_labels=keys.SCOPE_LABELS,
                           error=error), status


@bp.get("/settings/api-keys")
@permission_required("settings")
def settings_api_keys():
    """The keys (never the keys themselves: their prefix), and the form for a new one."""
    return _page(ApiKeyForm())


@bp.post("/settings/api-keys")
@permission_required("settings")
def settings_api_keys_create():
    """Create a key and show it once."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        message = next(iter(e for errors in form.errors.values() for e in errors))
        return _page(form, ValidationFailed(message, code="field_invalid"), 422)
    departments = (form.departments.data or "").replace("，", ",").split(",")
    try:
        created = keys.create_key(name=form.name.data, scopes=form.scopes.data,
                                  departments=departments, actor=current_actor())
    except ValidationFailed as exc:
        return _page(form, exc, 422)
    return render_template("console/settings/api_key_once.html", key=created.key,
                           secret=created.secret, scope_labels=keys.SCOPE_LABELS)


@bp.post("/settings/api-keys/<int:key_id>/revoke")
@permission_required("settings")
def settings_api_keys_revoke(key_id: int):
    """Revoke a key: the system using it gets 401 from now on."""
    if not RevokeForm().validate_on_submit():
        abort(400)
    try:
        key = keys.revoke_key(key_id, actor=current_actor())
    except NotFound:
        abort(404)
    flash(f"已吊销接口密钥“{key.name}”（{key.prefix}…），使用它的系统将无法再访问", "success")
    return redirect(url_for("console.settings_api_keys"))
