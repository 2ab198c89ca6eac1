"""Domain errors raised by services: stable code for programs, Chinese message for people."""
from app.core.errors import Conflict, NotFound, ValidationFailed


class InterviewNotFound(NotFound):
    code = "interview_not_found"
    message = "未找到该面试"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"
    message = "该面试已取消，无需重复操作"


class CancelPending(Conflict):
    code = "cancel_pending"
    message = "取消申请正在审核中，请耐心等待"


class NotCancellable(Conflict):
    code = "not_cancellable"
    message = "该面试当前状态不能取消"


class CancelDeadlinePassed(Conflict):
    code = "cancel_deadline_passed"
    message = "已超过可自助取消的时间，请联系招聘HR处理"


class InvalidReason(ValidationFailed):
    code = "invalid_reason"
    message = "请选择有效的取消原因"


class NoteRequired(ValidationFailed):
    code = "note_required"
    message = "选择该原因时需要填写说明"


class NoteTooLong(ValidationFailed):
    code = "note_too_long"
    message = "说明内容过长"


class InterviewStarted(Conflict):
    code = "interview_started"
    message = "面试已开始或已结束，无法取消"
