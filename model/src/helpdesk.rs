//! The helpdesk's rules as pure functions: who may move a ticket where, what a comment moves,
//! the password policy (one for the CLI and the API), and the tenant profile's fields
//! (RFC, postal code, e-mail addresses and allowed domains, phone, coordinates).
//!
//! Every check returns a typed reason, so the API can answer 400 naming the field, or 422 with
//! `from`/`to`, or 403, without knowing the rule.

use crate::status::{Role, TicketStatus};

/// Who is moving a ticket, as far as the ticket's workflow is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mover {
    /// MSP staff (superadmin, admin, technician): every allowed move.
    Staff,
    /// The ticket's tenant's client_admin: approvals, and cancelling a `new` ticket.
    ClientAdmin,
    /// A requester on a ticket it created: cancelling it while `new`.
    OwnRequester,
    /// A requester on someone else's ticket of its sites: no moves.
    OtherRequester,
}

impl Mover {
    /// The mover for a role; `own` tells whether a requester created the ticket.
    pub fn of(role: Role, own: bool) -> Mover {
        match role {
            Role::Superadmin | Role::Admin | Role::Technician => Mover::Staff,
            Role::ClientAdmin => Mover::ClientAdmin,
            Role::Requester if own => Mover::OwnRequester,
            Role::Requester => Mover::OtherRequester,
        }
    }
}

/// Why a ticket move was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// The workflow has no such move (422 with `from` and `to`).
    #[error("cannot move a ticket from '{from}' to '{to}'")]
    NotAllowed {
        from: TicketStatus,
        to: TicketStatus,
    },
    /// The move exists, but not for this caller (403).
    #[error("this role cannot move a ticket from '{from}' to '{to}'")]
    Forbidden {
        from: TicketStatus,
        to: TicketStatus,
    },
}

/// Checks a status change made by `mover`.
pub fn check_move(from: TicketStatus, to: TicketStatus, mover: Mover) -> Result<(), MoveError> {
    use TicketStatus::*;
    if !from.can_move_to(to) {
        return Err(MoveError::NotAllowed { from, to });
    }
    let allowed = match mover {
        Mover::Staff => true,
        Mover::ClientAdmin => matches!(
            (from, to),
            (PendingApproval, Assigned) | (PendingApproval, Cancelled) | (New, Cancelled)
        ),
        Mover::OwnRequester => matches!((from, to), (New, Cancelled)),
        Mover::OtherRequester => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(MoveError::Forbidden { from, to })
    }
}

/// The move a public comment makes by itself: the requester answering (`waiting_customer →
/// in_progress`) or saying the fix did not hold (`resolved → reopened`). Staff comments and
/// internal comments move nothing.
pub fn comment_move(
    status: TicketStatus,
    by_requester: bool,
    internal: bool,
) -> Option<TicketStatus> {
    if !by_requester || internal {
        return None;
    }
    match status {
        TicketStatus::WaitingCustomer => Some(TicketStatus::InProgress),
        TicketStatus::Resolved => Some(TicketStatus::Reopened),
        _ => None,
    }
}

/// Why a password was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {PASSWORD_MIN} characters")]
    TooShort,
    #[error("the password must have at most {PASSWORD_MAX} characters")]
    TooLong,
    #[error("the password must mix letters with digits or symbols")]
    TooSimple,
}

/// Shortest password accepted.
pub const PASSWORD_MIN: usize = 8;
/// Longest password accepted (hashing cost grows with it).
pub const PASSWORD_MAX: usize = 128;

/// The one password policy: 8–128 characters, letters mixed with digits or symbols.
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err(PasswordError::TooShort);
    }
    if n > PASSWORD_MAX {
        return Err(PasswordError::TooLong);
    }
    let letters = password.chars().any(char::is_alphabetic);
    let others = password
        .chars()
        .any(|c| !c.is_alphabetic() && !c.is_whitespace());
    if letters && others {
        Ok(())
    } else {
        Err(PasswordError::TooSimple)
    }
}

/// Why a profile field was refused; the API names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("RFC must be 3–4 letters (A–Z, Ñ, &), 6 digits (the date) and 3 letters or digits")]
    Rfc,
    #[error("the postal code (CP) must be 5 digits")]
    PostalCode,
    #[error("'{0}' is not an e-mail address")]
    Email(String),
    #[error("'{0}' is neither an e-mail address nor an @domain")]
    AllowedEmail(String),
    #[error("the phone must be 7–15 digits, optionally with +, spaces, dashes or parentheses")]
    Phone,
    #[error("latitude must be between -90 and 90 and longitude between -180 and 180")]
    Coordinates,
}

/// A Mexican RFC (tax id): `[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}`, upper-cased and trimmed first.
pub fn parse_rfc(text: &str) -> Result<String, ProfileError> {
    let rfc: Vec<char> = text.trim().to_uppercase().chars().collect();
    let letters = rfc.len().checked_sub(9).ok_or(ProfileError::Rfc)?;
    let (head, rest) = rfc.split_at(letters);
    let (date, check) = rest.split_at(6);
    let ok = (3..=4).contains(&letters)
        && head
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == '&' || *c == 'Ñ')
        && date.iter().all(char::is_ascii_digit)
        && check
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(rfc.into_iter().collect())
    } else {
        Err(ProfileError::Rfc)
    }
}

/// A Mexican postal code: exactly 5 digits.
pub fn parse_postal_code(text: &str) -> Result<String, ProfileError> {
    let cp = text.trim();
    if cp.len() == 5 && cp.chars().all(|c| c.is_ascii_digit()) {
        Ok(cp.to_owned())
    } else {
        Err(ProfileError::PostalCode)
    }
}

/// An e-mail address, trimmed and with its domain lower-cased: one `@`, a non-empty local part
/// without spaces, a domain with a dot and no empty labels. Deliverability is not checked.
pub fn parse_email(text: &str) -> Result<String, ProfileError> {
    let bad = || ProfileError::Email(text.to_owned());
    let text = text.trim();
    let (local, domain) = text.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || text.len() > 254
        || local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        || !valid_domain(domain)
    {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// An entry of a tenant's `allowed_emails`: a whole address, or `@domain` for every address
/// of that domain. Lower-cased.
pub fn parse_allowed_email(text: &str) -> Result<String, ProfileError> {
    let trimmed = text.trim();
    if let Some(domain) = trimmed.strip_prefix('@') {
        return if valid_domain(domain) {
            Ok(format!("@{}", domain.to_lowercase()))
        } else {
            Err(ProfileError::AllowedEmail(text.to_owned()))
        };
    }
    parse_email(trimmed)
        .map(|e| e.to_lowercase())
        .map_err(|_| ProfileError::AllowedEmail(text.to_owned()))
}

/// Whether `email` is covered by a tenant's `allowed_emails` (entries as parsed above).
pub fn email_allowed(allowed: &[String], email: &str) -> bool {
    let email = email.trim().to_lowercase();
    allowed.iter().any(|entry| {
        if entry.starts_with('@') {
            email.ends_with(entry.as_str())
        } else {
            *entry == email
        }
    })
}

/// A phone number: 7–15 digits, optionally with a leading `+`, spaces, dashes, dots or
/// parentheses. Kept as written (trimmed).
pub fn parse_phone(text: &str) -> Result<String, ProfileError> {
    let phone = text.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let shape = phone.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')') || (c == '+' && i == 0)
    });
    if shape && (7..=15).contains(&digits) {
        Ok(phone.to_owned())
    } else {
        Err(ProfileError::Phone)
    }
}

/// Latitude and longitude in range (both finite).
pub fn check_coordinates(lat: f64, lon: f64) -> Result<(), ProfileError> {
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(ProfileError::Coordinates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;

    /// The table, row by row: every allowed move, and nothing else.
    const MOVES: &[(TicketStatus, &[TicketStatus])] = &[
        (New, &[Assigned, InProgress, PendingApproval, Cancelled]),
        (PendingApproval, &[Assigned, Cancelled]),
        (Assigned, &[InProgress, Cancelled]),
        (InProgress, &[WaitingCustomer, Resolved]),
        (WaitingCustomer, &[InProgress, Resolved]),
        (Resolved, &[Closed, Reopened]),
        (Reopened, &[InProgress]),
        (Closed, &[]),
        (Cancelled, &[]),
    ];

    #[test]
    fn the_state_machine_is_exactly_the_table() {
        for (from, allowed) in MOVES {
            for to in TicketStatus::ALL {
                let expected = allowed.contains(to);
                assert_eq!(from.can_move_to(*to), expected, "{from} → {to}");
                let staff = check_move(*from, *to, Mover::Staff);
                if expected {
                    assert_eq!(staff, Ok(()));
                } else {
                    assert_eq!(
                        staff,
                        Err(MoveError::NotAllowed {
                            from: *from,
                            to: *to
                        })
                    );
                }
            }
        }
        assert_eq!(MOVES.len(), TicketStatus::ALL.len());
    }

    #[test]
    fn each_role_makes_only_its_moves() {
        let forbidden = |from, to| Err(MoveError::Forbidden { from, to });
        assert_eq!(check_move(New, Cancelled, Mover::OwnRequester), Ok(()));
        assert_eq!(
            check_move(New, Assigned, Mover::OwnRequester),
            forbidden(New, Assigned)
        );
        assert_eq!(
            check_move(New, Cancelled, Mover::OtherRequester),
            forbidden(New, Cancelled)
        );
        assert_eq!(
            check_move(PendingApproval, Assigned, Mover::ClientAdmin),
            Ok(())
        );
        assert_eq!(
            check_move(PendingApproval, Cancelled, Mover::ClientAdmin),
            Ok(())
        );
        assert_eq!(
            check_move(InProgress, Resolved, Mover::ClientAdmin),
            forbidden(InProgress, Resolved)
        );
        assert_eq!(Mover::of(Role::Technician, false), Mover::Staff);
        assert_eq!(Mover::of(Role::Requester, true), Mover::OwnRequester);
    }

    #[test]
    fn a_requesters_public_comment_moves_waiting_and_resolved_tickets() {
        assert_eq!(comment_move(WaitingCustomer, true, false), Some(InProgress));
        assert_eq!(comment_move(Resolved, true, false), Some(Reopened));
        assert_eq!(comment_move(Resolved, false, false), None, "staff");
        assert_eq!(comment_move(Resolved, true, true), None, "internal");
        assert_eq!(comment_move(InProgress, true, false), None);
        for status in TicketStatus::ALL {
            if let Some(next) = comment_move(*status, true, false) {
                assert!(status.can_move_to(next), "{status} → {next}");
            }
        }
    }

    #[test]
    fn passwords_follow_one_policy() {
        assert_eq!(check_password("DemoAdmin123!"), Ok(()));
        assert_eq!(check_password("Contraseña-1"), Ok(()));
        assert_eq!(check_password("Ab1"), Err(PasswordError::TooShort));
        assert_eq!(check_password("abcdefghij"), Err(PasswordError::TooSimple));
        assert_eq!(check_password("1234567890"), Err(PasswordError::TooSimple));
        assert_eq!(
            check_password(&"a1".repeat(65)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn rfcs_postal_codes_phones_and_coordinates() {
        assert_eq!(parse_rfc(" nuñ850101ab1 "), Ok("NUÑ850101AB1".into()));
        assert_eq!(parse_rfc("AB&C850101XY9"), Ok("AB&C850101XY9".into()));
        for bad in [
            "AB850101AB1",
            "ABCDE850101AB1",
            "ABC85010AAB1",
            "ABC850101AB",
            "ÁBC850101AB1",
        ] {
            assert_eq!(parse_rfc(bad), Err(ProfileError::Rfc), "{bad}");
        }
        assert_eq!(parse_postal_code("76000"), Ok("76000".into()));
        assert!(parse_postal_code("7600").is_err() && parse_postal_code("7600a").is_err());
        assert_eq!(
            parse_phone("+52 (442) 123-4567"),
            Ok("+52 (442) 123-4567".into())
        );
        assert!(parse_phone("123").is_err() && parse_phone("44+2123456").is_err());
        assert!(check_coordinates(20.59, -100.39).is_ok());
        assert!(check_coordinates(91.0, 0.0).is_err() && check_coordinates(0.0, f64::NAN).is_err());
    }

    #[test]
    fn emails_and_allowed_domains() {
        assert_eq!(
            parse_email(" José.Núñez@Clínica.MX "),
            Ok("José.Núñez@clínica.mx".into())
        );
        for bad in [
            "sin-arroba",
            "@dominio.mx",
            "a@b",
            "a b@c.mx",
            "a@-c.mx",
            "a@c..mx",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        let allowed = vec![
            parse_allowed_email("@Lanet.MX").unwrap(),
            parse_allowed_email("Ana@Otro.com").unwrap(),
        ];
        assert_eq!(allowed, vec!["@lanet.mx", "ana@otro.com"]);
        assert!(email_allowed(&allowed, "soporte@lanet.mx"));
        assert!(email_allowed(&allowed, "ANA@otro.com"));
        assert!(!email_allowed(&allowed, "soporte@lanet.mx.evil.com"));
        assert!(!email_allowed(&allowed, "bob@otro.com"));
        assert!(parse_allowed_email("@nodot").is_err());
    }
}
