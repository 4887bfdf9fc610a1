//! Pure domain types for pushbill: ids, money, schedules and state machines. No I/O.

pub mod backoff;
pub mod email;
pub mod error;
pub mod event_type;
pub mod ids;
pub mod invoice;
pub mod money;
pub mod outbound;
pub mod payment_method;
pub mod schedule;
pub mod subscription;
pub mod text;

pub use backoff::Backoff;
pub use email::{EmailAddress, EmailError};
pub use error::ParseEnumError;
pub use event_type::EventType;
pub use ids::{
    ApiKeyId, CustomerId, EmailId, EventId, IdError, InvoiceId, MerchantId, PaymentRequestId,
    PlanId, PushAttemptId, SubscriptionId, UserId, WalletConnectionId, WebhookDeliveryId,
    WebhookEndpointId,
};
pub use invoice::{IllegalInvoiceTransition, InvoiceEvent, InvoiceStatus, PaymentRequestStatus};
pub use ln_node::address::{NodeAddress, NodeError, NodeId};
pub use money::{MoneyError, Msat};
pub use outbound::{OutgoingEmailStatus, PushAttemptStatus, WebhookDeliveryStatus};
pub use payment_method::{PaymentMethod, Rail, WalletConnectionStatus};
pub use schedule::{CronSchedule, Interval, Period, Schedule, ScheduleError};
pub use subscription::{GraceAction, IllegalTransition, SubscriptionEvent, SubscriptionStatus};
