"""Console forms (Flask-WTF, CSRF protected)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=256)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """No fields: carries the CSRF token of the 退出 button."""


class UnbindWechatForm(FlaskForm):
    """No fields: carries the CSRF token of the 解除微信绑定 button."""


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码"),
                                                         Length(max=256)])
    new_password = PasswordField("新密码", validators=[
        DataRequired("请输入新密码"), Length(min=10, max=256, message="新密码至少10位")])
    confirm_password = PasswordField("确认新密码", validators=[
        DataRequired("请再次输入新密码"), EqualTo("new_password", "两次输入的新密码不一致")])


class UserActionForm(FlaskForm):
    """No fields: carries the CSRF token of the 解锁 and 停用 buttons."""


class CancelForm(FlaskForm):
    """取消面试: reason (company side), note, who is told, 为候选人重新安排."""
    reason_code = SelectField("取消原因", validate_choice=False)
    note = TextAreaField("说明", validators=[Length(max=1000, message="说明最多1000个字")])
    notify = SelectMultipleField("通知对象", validate_choice=False)
    reschedule = BooleanField("为候选人重新安排")


class BatchSelectForm(FlaskForm):
    """批量取消 from the list: the ticked rows (or the filters) go to the preview."""


class BatchPreviewForm(FlaskForm):
    reason_code = SelectField("取消原因", validate_choice=False)
    note = TextAreaField("说明", validators=[Length(max=1000, message="说明最多1000个字")])
    reschedule = BooleanField("为候选人重新安排")


class BatchConfirmForm(FlaskForm):
    token = HiddenField()


class DecisionForm(FlaskForm):
    """同意 / 驳回 / 要求补充说明 with a comment (required to reject or ask)."""
    comment = TextAreaField("审批意见", validators=[Length(max=500, message="审批意见最多500个字")])
