//! Severities, alert and ticket lifecycles, priorities, roles and the caller's tenant scope.
//! Each enum serialises to the lowercase words of the contract (docs/api.md) and parses them back.

use crate::ids::TenantId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract's word for this value.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord { kind: stringify!($name), word: s.to_owned() }),
                }
            }
        }
    };
}

/// A word that is not one of an enum's contract values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{word}' is not a valid {kind}")]
pub struct UnknownWord {
    pub kind: &'static str,
    pub word: String,
}

word_enum!(/// How bad a breach is. Ordered: critical is worse than warning.
    Severity { Warning => "warning", Critical => "critical" });

impl Severity {
    /// The worse of two severities.
    pub fn max(self, other: Severity) -> Severity {
        if self == Severity::Critical || other == Severity::Critical {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }
}

word_enum!(/// Whether the condition behind an alert still holds.
    AlertState { Firing => "firing", Cleared => "cleared" });

word_enum!(/// The human workflow of an alert, independent of its state.
    AlertStatus { Open => "open", InProgress => "in_progress", Resolved => "resolved" });

impl AlertStatus {
    /// Allowed moves: open → in_progress → resolved, open → resolved, resolved → open (reopen).
    pub fn can_move_to(self, next: AlertStatus) -> bool {
        use AlertStatus::*;
        matches!(
            (self, next),
            (Open, InProgress) | (Open, Resolved) | (InProgress, Resolved) | (Resolved, Open)
        )
    }
}

word_enum!(/// Ticket priority.
    TicketPriority { Low => "low", Medium => "medium", High => "high", Critical => "critical" });

word_enum!(/// Where a ticket came from.
    TicketSource { Portal => "portal", Email => "email", Agent => "agent", Alert => "alert", Api => "api" });

word_enum!(/// Ticket workflow states (docs/api.md).
TicketStatus {
    New => "new",
    PendingApproval => "pending_approval",
    Assigned => "assigned",
    InProgress => "in_progress",
    WaitingCustomer => "waiting_customer",
    Resolved => "resolved",
    Closed => "closed",
    Reopened => "reopened",
    Cancelled => "cancelled",
});

impl TicketStatus {
    /// The helpdesk workflow: new → assigned | in_progress | pending_approval |
    /// cancelled; pending_approval → assigned | cancelled; assigned → in_progress | cancelled;
    /// in_progress → waiting_customer | resolved; waiting_customer → in_progress | resolved;
    /// resolved → closed | reopened; reopened → in_progress; closed and cancelled are final.
    /// Who may make each move is [`crate::helpdesk::check_move`].
    pub fn can_move_to(self, next: TicketStatus) -> bool {
        use TicketStatus::*;
        matches!(
            (self, next),
            (New, Assigned | InProgress | PendingApproval | Cancelled)
                | (PendingApproval, Assigned | Cancelled)
                | (Assigned, InProgress | Cancelled)
                | (InProgress, WaitingCustomer | Resolved)
                | (WaitingCustomer, InProgress | Resolved)
                | (Resolved, Closed | Reopened)
                | (Reopened, InProgress)
        )
    }
}

word_enum!(/// User roles. Staff roles see every tenant; tenant roles see only their own.
Role {
    Superadmin => "superadmin",
    Admin => "admin",
    Technician => "technician",
    ClientAdmin => "client_admin",
    Requester => "requester",
});

impl Role {
    /// MSP staff: no tenant, sees all tenants.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Superadmin | Role::Admin | Role::Technician)
    }
}

/// What a caller may see: every tenant (staff, the engine itself), one tenant, or a requester's
/// part of one tenant (the sites assigned to the user, and the user's own tickets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Tenant(TenantId),
    /// A requester: row-level security narrows the tenant further to the user's sites
    /// (`user_sites`) on every site-bound table.
    Requester {
        tenant: TenantId,
        user: Uuid,
    },
}

impl Scope {
    /// Whether this scope includes rows of `tenant` (a requester's sites are checked apart).
    pub fn allows(&self, tenant: TenantId) -> bool {
        self.tenant().is_none_or(|own| own == tenant)
    }

    /// The one tenant this scope is limited to; `None` for [`Scope::All`].
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Scope::All => None,
            Scope::Tenant(own) | Scope::Requester { tenant: own, .. } => Some(*own),
        }
    }

    /// The requesting user when the scope is a requester's.
    pub fn requester(&self) -> Option<Uuid> {
        match self {
            Scope::Requester { user, .. } => Some(*user),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in TicketStatus::ALL {
            assert_eq!(s.as_str().parse::<TicketStatus>().unwrap(), *s);
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert!("boss".parse::<Role>().is_err());
    }

    #[test]
    fn ticket_moves_follow_the_contract() {
        use TicketStatus::*;
        assert!(New.can_move_to(Assigned));
        assert!(Resolved.can_move_to(Reopened));
        assert!(!New.can_move_to(Closed));
        assert!(!Closed.can_move_to(New));
        assert!(!Cancelled.can_move_to(Assigned));
    }

    #[test]
    fn scope_allows_only_own_tenant() {
        let a = TenantId::new();
        let b = TenantId::new();
        assert!(Scope::All.allows(a));
        assert!(Scope::Tenant(a).allows(a));
        assert!(!Scope::Tenant(a).allows(b));
        let user = Uuid::new_v4();
        let requester = Scope::Requester { tenant: a, user };
        assert!(requester.allows(a) && !requester.allows(b));
        assert_eq!(requester.tenant(), Some(a));
        assert_eq!(requester.requester(), Some(user));
        assert_eq!(Scope::All.tenant(), None);
        assert_eq!(Scope::Tenant(a).requester(), None);
    }
}
