"""Console settings: webhook endpoints (permission "settings"). List with state, register
(the signing secret is shown once), edit URL and events, rotate the secret (shown once),
pause, re-enable (optionally sending failed events again), a test event and the delivery
log. The rules live in app.services.webhooks.endpoints."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import Length

from app.console import bp
from app.console.views import current_actor, permission_required
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models.webhook import DELIVERY_DUE_STATUSES, DeliveryStatus
from app.services.webhooks import endpoints


class EndpointForm(FlaskForm):
    name = StringField("名称", validators=[Length(max=100, message="名称不超过100个字")])
    url = StringField("接收地址（URL）",
                      validators=[Length(max=500, message="地址不超过500个字符")])
    events = SelectMultipleField("订阅的事件", choices=endpoints.EVENT_CHOICES,
                                 validate_choice=False)


class EnableForm(FlaskForm):
    resend_failed = BooleanField("重新投递失败的事件")


class EndpointActionForm(FlaskForm):
    """No fields: the CSRF token of 轮换密钥 / 发送测试事件 / 停用 / 重新投递."""


def _call(call):
    try:
        return call(), None
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except (Conflict, ValidationFailed) as exc:
        return None, exc


def _errors(exc) -> tuple[dict, dict]:
    field = exc.details.get("field") or "_form"
    return {field: exc.message}, {field: exc.code}


@bp.get("/settings/webhooks")
@permission_required("settings")
def settings_webhooks():
    """Every endpoint with its state."""
    rows, _ = _call(lambda: endpoints.list_endpoints(current_actor()))
    return render_template("console/settings/webhooks.html", rows=rows,
                           labels=endpoints.EVENT_LABELS)


@bp.route("/settings/webhooks/new", methods=["GET", "POST"])
@permission_required("settings")
def settings_webhook_new():
    """Register an endpoint; the response shows its signing secret, once."""
    form = EndpointForm()
    errors, codes = {}, {}
    if form.validate_on_submit():
        created, error = _call(lambda: endpoints.create_endpoint(
            current_actor(), name=form.name.data, url=form.url.data,
            events=form.events.data or []))
        if error is None:
            return render_template("console/settings/webhook_secret_once.html",
                                   endpoint=created.endpoint, secret=created.secret,
                                   created=True)
        errors, codes = _errors(error)
    elif request.method == "GET":
        form.events.data = list(endpoints.catalogue.EVENTS)
    return render_template("console/settings/webhook_form.html", form=form, endpoint=None,
                           errors=errors, codes=codes)


@bp.route("/settings/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
@permission_required("settings")
def settings_webhook(endpoint_id: int):
    """One endpoint: its state, the edit form and the actions."""
    actor = current_actor()
    endpoint, _ = _call(lambda: endpoints.get_endpoint(endpoint_id, actor))
    form = EndpointForm()
    errors, codes = {}, {}
    if form.validate_on_submit():
        changed, error = _call(lambda: endpoints.update_endpoint(
            endpoint_id, actor, name=form.name.data, url=form.url.data,
            events=form.events.data or []))
        if error is None:
            flash("已保存修改" if changed else "没有需要保存的修改",
                  "success" if changed else "info")
            return redirect(url_for("console.settings_webhook", endpoint_id=endpoint_id))
        errors, codes = _errors(error)
    elif request.method == "GET":
        form.name.data, form.url.data = endpoint.name, endpoint.url
        form.events.data = list(endpoint.events or [])
    failed, _ = _call(lambda: endpoints.failed_since_last_success(endpoint_id, actor))
    return render_template("console/settings/webhook_form.html", form=form,
                           endpoint=endpoint, errors=errors, codes=codes, failed=failed,
                           action_form=EndpointActionForm(), enable_form=EnableForm(),
                           labels=endpoints.EVENT_LABELS)


def _checked(form_class=EndpointActionForm):
    form = form_class()
    if not form.validate_on_submit():
        abort(400)
    return form


def _back(endpoint_id: int, error, message: str | None):
    if error is not None:
        flash(error.message, "error")
    elif message:
        flash(message, "success")
    return redirect(url_for("console.settings_webhook", endpoint_id=endpoint_id))


@bp.post("/settings/webhooks/<int:endpoint_id>/rotate-secret")
@permission_required("settings")
def settings_webhook_rotate(endpoint_id: int):
    """A new signing secret, shown on this response only."""
    _checked()
    rotated, error = _call(lambda: endpoints.rotate_secret(endpoint_id, current_actor()))
    if error is not None:
        return _back(endpoint_id, error, None)
    return render_template("console/settings/webhook_secret_once.html",
                           endpoint=rotated.endpoint, secret=rotated.secret, created=False)


@bp.post("/settings/webhooks/<int:endpoint_id>/test")
@permission_required("settings")
def settings_webhook_test(endpoint_id: int):
    """Queue a ping; the delivery log shows how it went."""
    _checked()
    delivery, error = _call(lambda: endpoints.send_test(endpoint_id, current_actor()))
    if error is not None:
        return _back(endpoint_id, error, None)
    flash("已发送测试事件，结果见下方投递记录", "success")
    return redirect(url_for("console.settings_webhook_deliveries", endpoint_id=endpoint_id,
                            test=delivery.id))


@bp.post("/settings/webhooks/<int:endpoint_id>/disable")
@permission_required("settings")
def settings_webhook_disable(endpoint_id: int):
    """Pause an endpoint."""
    _checked()
    done, error = _call(lambda: endpoints.disable_endpoint(endpoint_id, current_actor()))
    return _back(endpoint_id, error, "已停用该地址，新事件不再投递" if done else None)


@bp.post("/settings/webhooks/<int:endpoint_id>/enable")
@permission_required("settings")
def settings_webhook_enable(endpoint_id: int):
    """Re-enable an endpoint; with 重新投递失败的事件 its failed events are queued again."""
    form = _checked(EnableForm)
    requeued, error = _call(lambda: endpoints.enable_endpoint(
        endpoint_id, current_actor(), resend_failed=bool(form.resend_failed.data)))
    message = "已重新启用，失败计数已清零" + (
        f"，{requeued} 个失败的事件将重新投递" if requeued else "")
    return _back(endpoint_id, error, message)


@bp.post("/settings/webhooks/<int:endpoint_id>/resend-failed")
@permission_required("settings")
def settings_webhook_resend(endpoint_id: int):
    """Queue the events that finally failed since the last success again."""
    _checked()
    requeued, error = _call(lambda: endpoints.resend_failed(endpoint_id, current_actor()))
    return _back(endpoint_id, error, f"{requeued} 个失败的事件将重新投递" if requeued
                 else "没有失败的事件需要重新投递")


@bp.get("/settings/webhooks/<int:endpoint_id>/deliveries")
@permission_required("settings")
def settings_webhook_deliveries(endpoint_id: int):
    """Recent deliveries with their status, attempts, last status code and error, and
    every attempt; after a test event the page refreshes until the ping is settled."""
    actor = current_actor()
    endpoint, _ = _call(lambda: endpoints.get_endpoint(endpoint_id, actor))
    page, _ = _call(lambda: endpoints.deliveries(endpoint_id, actor,
                                                 page=request.args.get("page", 1, type=int)))
    test_id = request.args.get("test", type=int)
    test = next((d for d in page.items if d.id == test_id), None)
    pending = test is not None and test.status in (*DELIVERY_DUE_STATUSES,
                                                   DeliveryStatus.SENDING)
    response = make_response(render_template(
        "console/settings/webhook_deliveries.html", endpoint=endpoint, result=page,
        test=test, pending=pending, labels=endpoints.EVENT_LABELS,
        action_form=EndpointActionForm()))
    if pending:
        response.headers["Refresh"] = "2"  # until the worker has sent the ping
    return response
