"""Console forms (Flask-WTF, CSRF protected)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=256)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """No fields: carries the CSRF token of the 退出 button."""


class UnbindWechatForm(FlaskForm):
    """No fields: carries the CSRF token of the 解除微信绑定 button."""
