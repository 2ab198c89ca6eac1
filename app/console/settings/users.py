"""Console settings: HR users (admins). Create, edit role and departments, disable and
enable, reset password (a generated one is shown once), unlock a login or a locked
address, remove the WeChat binding. The rules live in app.services.users.accounts."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import Length

from app.console import bp
from app.console.forms import UserActionForm
from app.console.views import permission_required
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models.hr import ROLE_LABELS, Role
from app.services.users import accounts

ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]
PASSWORD_MODES = [("generate", "自动生成临时密码（仅显示一次）"), ("typed", "由我设置临时密码")]


class UserProfileForm(FlaskForm):
    display_name = StringField("姓名", validators=[Length(max=64, message="姓名不超过64个字")])
    role = SelectField("角色", choices=ROLE_CHOICES, validate_choice=False)
    departments = SelectMultipleField("部门", validate_choice=False)
    other_departments = StringField("其他部门（用逗号分隔）", validators=[Length(max=500)])
    email = StringField("电子邮箱", validators=[Length(max=254, message="邮箱不超过254个字符")])


class NewUserForm(UserProfileForm):
    username = StringField("用户名", validators=[Length(max=64, message="用户名不超过64位")])
    password_mode = RadioField("初始密码", choices=PASSWORD_MODES, default="generate",
                               validate_choice=False)
    password = PasswordField("临时密码", validators=[Length(max=256)])


class ResetPasswordForm(FlaskForm):
    password_mode = RadioField("新的临时密码", choices=PASSWORD_MODES, default="generate",
                               validate_choice=False)
    password = PasswordField("临时密码", validators=[Length(max=256)])


class AddressForm(FlaskForm):
    address = HiddenField()


def _ip() -> str | None:
    return request.remote_addr


def _departments(form: UserProfileForm) -> list[str]:
    typed = (form.other_departments.data or "").replace("，", ",").split(",")
    return [*(form.departments.data or []), *typed]


def _field_error(form: FlaskForm, exc: ValidationFailed, default: str) -> None:
    field = getattr(form, exc.details.get("field") or default, None) or getattr(form, default)
    field.errors = [*field.errors, exc.message]


def _translate(call):
    """Run a service call; 403 and 404 as pages, a refused change as a flash message."""
    try:
        return call(), None
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except (Conflict, ValidationFailed) as exc:
        return None, exc


@bp.get("/users")
@permission_required("users")
def users():
    """HR users with role, departments, WeChat binding and state; locked addresses."""
    rows, _ = _translate(lambda: accounts.list_users(actor_id=current_user.id))
    addresses, _ = _translate(lambda: accounts.locked_addresses(actor_id=current_user.id))
    return render_template("console/settings/users.html", rows=rows, addresses=addresses,
                           action_form=UserActionForm(), address_form=AddressForm())


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("users")
def new_user():
    """Create a user; a generated initial password is shown on this response only."""
    form = NewUserForm()
    choices, _ = _translate(lambda: accounts.department_choices(actor_id=current_user.id))
    form.departments.choices = [(d, d) for d in choices]
    if form.validate_on_submit():
        typed = form.password_mode.data == "typed"
        fields = dict(username=form.username.data, display_name=form.display_name.data,
                      role=form.role.data, email=form.email.data,
                      departments=_departments(form), actor_id=current_user.id,
                      must_change_password=True, ip=_ip())
        if typed:
            created, error = _translate(lambda: accounts.NewUser(accounts.create_user(
                password=form.password.data or "", **fields), None))
        else:
            created, error = _translate(
                lambda: accounts.create_user_with_generated_password(**fields))
        if error is None:
            if created.password:
                return render_template("console/settings/user_password_once.html",
                                       user=created.user, password=created.password,
                                       created=True)
            flash(f"已创建用户 {created.user.username}，首次登录时需修改密码", "success")
            return redirect(url_for("console.users"))
        _field_error(form, error, "username")
    return render_template("console/settings/user_form.html", form=form, user=None,
                           choices=choices)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@permission_required("users")
def edit_user(user_id: int):
    """Change name, role, e-mail and departments."""
    row, _ = _translate(lambda: accounts.get_user(user_id, actor_id=current_user.id))
    form = UserProfileForm()
    choices, _ = _translate(lambda: accounts.department_choices(actor_id=current_user.id))
    form.departments.choices = [(d, d) for d in choices]
    if request.method == "GET":
        form.display_name.data = row.user.display_name
        form.role.data = row.user.role.value
        form.email.data = row.user.email or ""
        form.departments.data = row.user.departments
    if form.validate_on_submit():
        changed, error = _translate(lambda: accounts.update_user(
            user_id, actor_id=current_user.id, display_name=form.display_name.data,
            role=form.role.data, email=form.email.data, departments=_departments(form),
            ip=_ip()))
        if error is None:
            flash("已保存修改" if changed else "没有需要保存的修改",
                  "success" if changed else "info")
            return redirect(url_for("console.users"))
        if isinstance(error, Conflict):
            flash(error.message, "error")
        else:
            _field_error(form, error, "display_name")
    return render_template("console/settings/user_form.html", form=form, user=row.user,
                           choices=choices)


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@permission_required("users")
def reset_user_password(user_id: int):
    """Set a temporary password (typed or generated, shown once); the user must change it
    at the next sign-in, and their sessions end now."""
    row, _ = _translate(lambda: accounts.get_user(user_id, actor_id=current_user.id))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        typed = form.password.data if form.password_mode.data == "typed" else None
        if form.password_mode.data == "typed" and not typed:
            form.password.errors = ["请输入临时密码"]
        else:
            reset, error = _translate(lambda: accounts.reset_password(
                user_id, typed, actor_id=current_user.id, ip=_ip()))
            if error is None:
                if reset.password:
                    return render_template("console/settings/user_password_once.html",
                                           user=row.user, password=reset.password,
                                           created=False, revoked=reset.revoked)
                flash(f"已重置 {row.user.username} 的密码（其 {reset.revoked} 个登录会话已失效），"
                      "下次登录时需修改密码", "success")
                return redirect(url_for("console.users"))
            _field_error(form, error, "password")
    return render_template("console/settings/user_reset.html", form=form, user=row.user)


def _action(call, done, *, noop: str | None = None):
    if not UserActionForm().validate_on_submit():
        abort(400)
    result, error = _translate(call)
    if error is not None:
        flash(error.message, "error")
    elif noop is not None and not result:
        flash(noop, "info")
    else:
        flash(done(result) if callable(done) else done, "success")
    return redirect(url_for("console.users"))


@bp.post("/users/<int:user_id>/unlock")
@permission_required("users")
def unlock_user(user_id: int):
    """Lift a login lock before it runs out."""
    return _action(lambda: accounts.unlock_login(user_id, actor_id=current_user.id, ip=_ip()),
                   "已解锁，该用户可以重新登录", noop="该用户的登录未被锁定")


@bp.post("/users/<int:user_id>/disable")
@permission_required("users")
def disable_user(user_id: int):
    """Disable a user: no more logins, and their open sessions end now."""
    return _action(lambda: accounts.disable_user(user_id, actor_id=current_user.id, ip=_ip()),
                   lambda revoked: f"已停用该用户，其 {revoked} 个登录会话已失效")


@bp.post("/users/<int:user_id>/enable")
@permission_required("users")
def enable_user(user_id: int):
    """Enable a disabled user again."""
    return _action(lambda: accounts.enable_user(user_id, actor_id=current_user.id, ip=_ip()),
                   "已重新启用该用户", noop="该用户已是启用状态")


@bp.post("/users/<int:user_id>/unbind-wechat")
@permission_required("users")
def unbind_user_wechat(user_id: int):
    """Remove the user's WeChat binding."""
    return _action(lambda: accounts.unbind_wechat(user_id, actor_id=current_user.id, ip=_ip()),
                   "已解除微信绑定", noop="该用户未绑定微信")


@bp.post("/users/addresses/unlock")
@permission_required("users")
def unlock_address():
    """Lift the lock of a client address (too many failed logins from it)."""
    form = AddressForm()
    if not form.validate_on_submit():
        abort(400)
    address = form.address.data or ""
    was_locked, error = _translate(lambda: accounts.unlock_address(
        address, actor_id=current_user.id, ip=_ip()))
    if error is not None:
        flash(error.message, "error")
    elif was_locked:
        flash(f"已解锁IP地址 {address}", "success")
    else:
        flash(f"IP地址 {address} 未被锁定", "info")
    return redirect(url_for("console.users"))
