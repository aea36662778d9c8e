//! `/login` decisions for both login generations (reference §1.8), kept free of I/O.
//!
//! Modern (≥ 6.43, and what 6.45.1+ still does): `=name= =password=` in clear text; a bare
//! `/login` still returns a challenge, but a `=response=` to it is refused. Legacy (< 6.43):
//! every `/login` without `=response=` returns a fresh 32-hex-digit challenge, whatever name or
//! password it carries; `=response=` must be `00` + md5(0x00 ‖ password ‖ challenge).

use centinela_routeros::codec::Request;
use centinela_routeros::login::challenge_response;

/// The router's failure texts.
pub(crate) const MODERN_FAILURE: &str = "invalid user name or password (6)";
pub(crate) const LEGACY_FAILURE: &str = "cannot log in";

/// What a `/login` leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    /// Send `!done =ret=<challenge>` and remember the challenge.
    Challenge(String),
    /// Logged in as this user.
    Success(String),
    /// `!trap =message=<message>` + `!done`; `user` is the name tried (for the router's log).
    Failure { user: String, message: &'static str },
}

/// Why a login attempt was malformed (never sent to the client: it becomes a failure).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    #[error("no challenge was issued on this connection")]
    NoChallenge,
}

/// Decides a `/login`. `challenge` is the last challenge issued on this connection.
pub(crate) fn evaluate(
    request: &Request,
    users: &[(String, String)],
    legacy: bool,
    challenge: Option<&str>,
) -> LoginOutcome {
    let text = |key: &str| {
        request
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let (name, password, response) = (text("name"), text("password"), text("response"));
    if legacy {
        let Some(response) = response else {
            return LoginOutcome::Challenge(new_challenge());
        };
        let user = name.unwrap_or_default();
        return match verify_response(users, &user, &response, challenge) {
            Ok(true) => LoginOutcome::Success(user),
            Ok(false) | Err(_) => LoginOutcome::Failure {
                user,
                message: LEGACY_FAILURE,
            },
        };
    }
    match (name, password, response) {
        (None, None, None) => LoginOutcome::Challenge(new_challenge()),
        (Some(user), password, None) => {
            let password = password.unwrap_or_default();
            if users.iter().any(|(n, p)| *n == user && *p == password) {
                LoginOutcome::Success(user)
            } else {
                LoginOutcome::Failure {
                    user,
                    message: MODERN_FAILURE,
                }
            }
        }
        (user, _, _) => LoginOutcome::Failure {
            user: user.unwrap_or_default(),
            message: MODERN_FAILURE,
        },
    }
}

fn verify_response(
    users: &[(String, String)],
    user: &str,
    response: &str,
    challenge: Option<&str>,
) -> Result<bool, AuthError> {
    let challenge = challenge.ok_or(AuthError::NoChallenge)?;
    Ok(users
        .iter()
        .filter(|(n, _)| n == user)
        .any(|(_, password)| {
            challenge_response(password.as_bytes(), challenge)
                .is_ok_and(|expected| expected == response)
        }))
}

/// 16 random bytes as 32 lowercase hex digits.
fn new_challenge() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<(String, String)> {
        vec![
            ("admin".to_string(), String::new()),
            ("ops".to_string(), "secret".to_string()),
        ]
    }

    fn login(args: &[(&str, &str)]) -> Request {
        args.iter()
            .fold(Request::new("/login"), |r, (k, v)| r.attr(k, v))
    }

    #[test]
    fn modern_login_table() {
        let fail = |user: &str| LoginOutcome::Failure {
            user: user.to_string(),
            message: MODERN_FAILURE,
        };
        let table = [
            (
                login(&[("name", "admin"), ("password", "")]),
                LoginOutcome::Success("admin".into()),
            ),
            (
                login(&[("name", "admin")]),
                LoginOutcome::Success("admin".into()),
            ),
            (
                login(&[("name", "ops"), ("password", "secret")]),
                LoginOutcome::Success("ops".into()),
            ),
            (login(&[("name", "ops"), ("password", "nope")]), fail("ops")),
            (login(&[("name", "root"), ("password", "")]), fail("root")),
            (
                login(&[("name", "admin"), ("response", "00abc")]),
                fail("admin"),
            ),
            (login(&[("password", "secret")]), fail("")),
        ];
        for (request, expected) in table {
            assert_eq!(
                evaluate(&request, &users(), false, Some("00")),
                expected,
                "{request:?}"
            );
        }
        let LoginOutcome::Challenge(challenge) = evaluate(&login(&[]), &users(), false, None)
        else {
            panic!("bare /login gets a challenge");
        };
        assert_eq!(challenge.len(), 32);
        assert!(challenge.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn legacy_login_uses_the_issued_challenge() {
        let challenge = "856780b7411eefd3abadee2058c149a3";
        let response = "009622e621f0892961a28bcf7a0cea13e4"; // password "secret", reference §1.8
        let good = login(&[("name", "ops"), ("response", response)]);
        assert_eq!(
            evaluate(&good, &users(), true, Some(challenge)),
            LoginOutcome::Success("ops".into())
        );
        let failure = LoginOutcome::Failure {
            user: "ops".into(),
            message: LEGACY_FAILURE,
        };
        assert_eq!(
            evaluate(&good, &users(), true, None),
            failure,
            "no challenge issued"
        );
        assert_eq!(
            evaluate(
                &good,
                &users(),
                true,
                Some("00112233445566778899aabbccddeeff")
            ),
            failure
        );
        let with_password = login(&[("name", "ops"), ("password", "secret")]);
        assert!(matches!(
            evaluate(&with_password, &users(), true, None),
            LoginOutcome::Challenge(_)
        ));
    }
}
