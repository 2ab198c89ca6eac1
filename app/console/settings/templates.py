"""Console settings: WeChat template ids per message kind, and 发送测试消息 (admins)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app.console import bp
from app.console.settings.form_errors import client_ip, error_codes, field_errors
from app.console.views import current_actor, permission_required
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.services.rules import template_test
from app.services.rules import templates as service


def _page(*, errors=None, codes=None, form=None, result=None, status=200):
    actor = current_actor()
    templates, kinds = service.overview(actor)
    return render_template(
        "console/settings/templates.html", templates=templates, kinds=kinds,
        users=template_test.bound_users(actor), app_labels=service.APP_LABELS,
        errors=errors or {}, codes=codes or {}, form=form or {}, result=result), status


@bp.get("/settings/templates")
@permission_required("settings")
def settings_templates():
    """Every message kind with its template ids, and the templates' ids to edit."""
    return _page()


@bp.post("/settings/templates/<key>")
@permission_required("settings")
def settings_template_save(key: str):
    """Set a template's id (empty: the configured one); new messages use it at once."""
    value = request.form.get("template_id", "")
    try:
        now = service.set_template_id(current_actor(), key, value, ip=client_ip())
    except ValidationFailed as exc:
        return _page(errors={key: field_errors(exc).get("template_id", exc.message)},
                     codes={key: error_codes(exc).get("template_id", exc.code)},
                     form={key: value}, status=exc.status)
    flash(f"模板ID已保存，新消息立即使用 {now}", "success")
    return redirect(url_for("console.settings_templates") + f"#tpl-{key}")


@bp.post("/settings/templates/test")
@permission_required("settings")
def settings_template_test():
    """Send one kind with sample values to a bound HR user; show what WeChat answered."""
    kind = request.form.get("kind", "")
    user_id = request.form.get("user_id", type=int)
    try:
        if user_id is None:
            raise ValidationFailed("请选择接收测试消息的HR用户", code="field_required",
                                   details={"field": "user_id"})
        result = template_test.send_test_message(current_actor(), kind, user_id,
                                                 ip=client_ip())
    except (ValidationFailed, Conflict, NotFound) as exc:
        return _page(errors={"test": exc.message}, codes={"test": exc.code},
                     form={"kind": kind, "user_id": user_id}, status=exc.status)
    return _page(result=result, form={"kind": kind, "user_id": user_id})
