"""微信绑定: each HR user binds their own WeChat to their account. The page shows whether
they are bound; 生成绑定码 issues a one-time code and a QR code (shown once: only their
hashes are kept), and 解除绑定 removes their own binding."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.console import bp
from app.core.timeutil import utcnow
from app.services.users import accounts, wechat_binding


class BindingForm(FlaskForm):
    """No fields: carries the CSRF token of 生成绑定码 / 解除绑定."""


def _qr_svg(url: str | None) -> str | None:
    """The QR code of WeChat's ticket url as inline SVG (no external image: the console's
    Content-Security-Policy allows its own resources only)."""
    if not url:
        return None
    import segno

    return segno.make(url, error="m").svg_inline(scale=5, border=2, title="微信绑定二维码")


def _page(issued: wechat_binding.IssuedCode | None = None):
    user = current_user._get_current_object()
    return render_template(
        "console/wechat_binding.html", binding=accounts.wechat_binding_of(user),
        issued=issued, qr_svg=_qr_svg(issued.qr_url) if issued else None,
        pending_until=wechat_binding.pending_code_expiry(user.id) if issued is None else None,
        minutes=wechat_binding.code_minutes(), form=BindingForm(), now=utcnow())


@bp.get("/wechat-binding")
@login_required
def wechat_binding_page():
    return _page()


@bp.post("/wechat-binding/code")
@login_required
def wechat_binding_code():
    """A new code and QR code, shown on this response only (no redirect: never stored)."""
    if not BindingForm().validate_on_submit():
        flash("页面已过期，请刷新后重试", "error")
        return redirect(url_for("console.wechat_binding_page"))
    issued = wechat_binding.issue_code(current_user.id, ip=request.remote_addr)
    return _page(issued)


@bp.post("/wechat-binding/unbind")
@login_required
def wechat_binding_unbind():
    if not BindingForm().validate_on_submit():
        flash("页面已过期，请刷新后重试", "error")
    elif wechat_binding.unbind_own(current_user.id, ip=request.remote_addr):
        flash("已解除微信绑定，该微信将不再收到HR通知", "success")
    else:
        flash("您的账号尚未绑定微信", "info")
    return redirect(url_for("console.wechat_binding_page"))
