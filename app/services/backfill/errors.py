"""Errors of offers and waiting lists: stable code for programs, Chinese message for people."""
from app.core.errors import Conflict, NotFound, ValidationFailed


class OfferNotFound(NotFound):
    code = "offer_not_found"
    message = "未找到该面试邀约"


class OfferTaken(Conflict):
    code = "offer_taken"
    message = "该名额已被其他候选人预约，请等待下一次邀约"


class OfferExpired(Conflict):
    code = "offer_expired"
    message = "该邀约已过期"


class OfferDeclined(Conflict):
    code = "offer_declined"
    message = "您已婉拒该邀约"


class OfferAccepted(Conflict):
    code = "offer_accepted"
    message = "您已接受该邀约，无需重复操作"


class AlreadyBooked(Conflict):
    code = "already_booked"
    message = "您在该岗位或该时间已有面试安排，无需重复预约"


class WaitlistPositionNotFound(NotFound):
    code = "position_not_found"
    message = "未找到该岗位"


class WaitlistEntryNotFound(NotFound):
    code = "waitlist_entry_not_found"
    message = "未找到该候补记录"


class WaitlistCandidateNotFound(ValidationFailed):
    code = "candidate_not_found"
    message = "未找到该面试编号对应的候选人"


class AlreadyWaiting(Conflict):
    code = "already_waiting"
    message = "该候选人已在候补名单中"
