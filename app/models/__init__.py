"""SQLAlchemy 2.0 typed models, one module per aggregate."""
from app.models.alerts import Alert  # noqa: F401
from app.models.audit import AuditEntry  # noqa: F401
from app.models.backfill import (  # noqa: F401
    BackfillPlace,
    OfferKind,
    OfferState,
    PlaceState,
    PromiseState,
    ReschedulePromise,
    SlotOffer,
    WaitlistEntry,
    WaitlistState,
)
from app.models.cancellation import (  # noqa: F401
    ActorType,
    Approval,
    ApprovalDecision,
    BatchStatus,
    CancelBatch,
    Cancellation,
    CancellationState,
    CancelReason,
    ReasonActor,
)
from app.models.candidate import Candidate, WechatAccount, WechatApp  # noqa: F401
from app.models.hr import HrUser, HrUserDepartment, Role  # noqa: F401
from app.models.integration import ApiKey, ImportJob  # noqa: F401
from app.models.interview import Interview, InterviewStatus, InvalidTransition  # noqa: F401
from app.models.jobs import ConfirmReminder, JobRun, RequestEscalation  # noqa: F401
from app.models.oa_hr import FeedbackReply, FeedbackSource, HrBindingCode  # noqa: F401
from app.models.outbox import OutboxMessage, OutboxStatus, Subscription  # noqa: F401
from app.models.position import InterviewSession, Position  # noqa: F401
from app.models.privacy import (  # noqa: F401
    CandidateAnonymisation,
    ErasureRequest,
    ErasureStatus,
    PrivacyConsent,
)
from app.models.read_indexes import INDEXES  # noqa: F401,E402  (console and report reads)
from app.models.settings import Feedback, InviteToken, Setting, WorkdayOverride  # noqa: F401
from app.models.webhook import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: F401,E501
