//! Threshold rules and their evaluation: a documented state machine, kept in one place.
//!
//! ```text
//!            breach                 held for `for_seconds`
//!   Ok ─────────────────▶ Pending ─────────────────────────▶ Firing(severity)
//!    ▲   no breach (drop)    │                                 │  │ severity changes:
//!    └───────────────────────┘                                 │  └─ SeverityChanged (same alert)
//!    ▲                                                         │
//!    └──────────────── Cleared: value back past the clear margin
//! ```
//!
//! - *Breach* of a level: `value op limit` (`> >= < <= == !=`).
//! - The severity is critical if the critical limit is breached, else warning if the warning
//!   limit is, else none.
//! - *Clear margin* (hysteresis): once firing at a level, the level still counts as breached
//!   until the value is past its limit by the margin (for `>`/`>=`: `value > limit - margin`
//!   keeps it; for `<`/`<=`: `value < limit + margin`). `==`/`!=` ignore the margin.
//! - `for_seconds = 0` fires on the first breaching value.
//!
//! Evaluation is pure: `(state, rule, value, now) → (state, transition?)`.

use crate::status::Severity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Comparison operator of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub fn as_str(&self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    pub fn parse(word: &str) -> Option<Op> {
        Some(match word {
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }

    /// `value op limit`, with the limit moved by `margin` in the direction that keeps an
    /// already-breached level breached (hysteresis).
    fn breaches(self, value: f64, limit: f64, margin: f64) -> bool {
        match self {
            Op::Gt => value > limit - margin,
            Op::Ge => value >= limit - margin,
            Op::Lt => value < limit + margin,
            Op::Le => value <= limit + margin,
            Op::Eq => value == limit,
            Op::Ne => value != limit,
        }
    }
}

/// The evaluable part of a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub op: Op,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub for_seconds: u32,
    pub clear_margin: f64,
}

/// Why a rule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("a threshold needs a warning or a critical level")]
    NoLevel,
    #[error("levels and clear_margin must be finite numbers")]
    NotFinite,
    #[error("clear_margin must not be negative")]
    NegativeMargin,
}

impl Rule {
    /// Validates a rule: at least one level, finite numbers, a non-negative margin.
    pub fn new(
        op: Op,
        warning: Option<f64>,
        critical: Option<f64>,
        for_seconds: u32,
        clear_margin: f64,
    ) -> Result<Rule, RuleError> {
        if warning.is_none() && critical.is_none() {
            return Err(RuleError::NoLevel);
        }
        let finite = warning.is_none_or(f64::is_finite)
            && critical.is_none_or(f64::is_finite)
            && clear_margin.is_finite();
        if !finite {
            return Err(RuleError::NotFinite);
        }
        if clear_margin < 0.0 {
            return Err(RuleError::NegativeMargin);
        }
        Ok(Rule {
            op,
            warning,
            critical,
            for_seconds,
            clear_margin,
        })
    }

    /// The severity `value` deserves. `current` is the severity already firing, whose levels get
    /// the clear margin.
    pub fn classify(&self, value: f64, current: Option<Severity>) -> Option<Severity> {
        let margin_for = |level: Severity| {
            let held = match current {
                Some(Severity::Critical) => true,
                Some(Severity::Warning) => level == Severity::Warning,
                None => false,
            };
            if held { self.clear_margin } else { 0.0 }
        };
        if let Some(limit) = self.critical
            && self
                .op
                .breaches(value, limit, margin_for(Severity::Critical))
        {
            return Some(Severity::Critical);
        }
        if let Some(limit) = self.warning
            && self
                .op
                .breaches(value, limit, margin_for(Severity::Warning))
        {
            return Some(Severity::Warning);
        }
        None
    }

    /// The limit of a severity, for alert texts.
    pub fn limit(&self, severity: Severity) -> Option<f64> {
        match severity {
            Severity::Warning => self.warning,
            Severity::Critical => self.critical,
        }
    }
}

/// The evaluation state of one (threshold, series).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum SeriesState {
    #[default]
    Ok,
    /// Breaching since `since`, waiting for `for_seconds`.
    Pending { since: DateTime<Utc> },
    /// An alert is open at `severity`.
    Firing { severity: Severity },
}

/// What changed, for the alert machinery.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    Opened {
        severity: Severity,
        value: f64,
    },
    SeverityChanged {
        from: Severity,
        to: Severity,
        value: f64,
    },
    Cleared {
        value: f64,
    },
}

/// One evaluation step.
pub fn step(
    state: SeriesState,
    rule: &Rule,
    value: f64,
    now: DateTime<Utc>,
) -> (SeriesState, Option<Transition>) {
    let current = match state {
        SeriesState::Firing { severity } => Some(severity),
        _ => None,
    };
    let level = rule.classify(value, current);
    match (state, level) {
        (SeriesState::Ok, None) | (SeriesState::Pending { .. }, None) => (SeriesState::Ok, None),
        (SeriesState::Ok, Some(severity)) if rule.for_seconds == 0 => (
            SeriesState::Firing { severity },
            Some(Transition::Opened { severity, value }),
        ),
        (SeriesState::Ok, Some(_)) => (SeriesState::Pending { since: now }, None),
        (SeriesState::Pending { since }, Some(severity)) => {
            let held = (now - since).num_milliseconds() >= i64::from(rule.for_seconds) * 1000;
            if held {
                (
                    SeriesState::Firing { severity },
                    Some(Transition::Opened { severity, value }),
                )
            } else {
                (SeriesState::Pending { since }, None)
            }
        }
        (SeriesState::Firing { severity: from }, Some(to)) if from != to => (
            SeriesState::Firing { severity: to },
            Some(Transition::SeverityChanged { from, to, value }),
        ),
        (SeriesState::Firing { .. }, Some(_)) => (state, None),
        (SeriesState::Firing { .. }, None) => {
            (SeriesState::Ok, Some(Transition::Cleared { value }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(secs)
    }

    fn cpu_rule(for_seconds: u32) -> Rule {
        Rule::new(Op::Gt, Some(80.0), Some(90.0), for_seconds, 5.0).unwrap()
    }

    /// Feeds values at 1 s intervals and returns the transitions.
    fn run(rule: &Rule, values: &[f64]) -> Vec<Option<Transition>> {
        let mut state = SeriesState::Ok;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (next, tr) = step(state, rule, *v, t(i as i64));
                state = next;
                tr
            })
            .collect()
    }

    #[test]
    fn table_of_transitions() {
        use Severity::*;
        let rule = cpu_rule(0);
        let cases: &[(&[f64], &[Option<Transition>])] = &[
            (
                &[95.0],
                &[Some(Transition::Opened {
                    severity: Critical,
                    value: 95.0,
                })],
            ),
            (
                &[85.0],
                &[Some(Transition::Opened {
                    severity: Warning,
                    value: 85.0,
                })],
            ),
            (&[50.0], &[None]),
            (
                &[95.0, 87.0, 84.0, 76.0, 74.0],
                &[
                    Some(Transition::Opened {
                        severity: Critical,
                        value: 95.0,
                    }),
                    // 87 > 90 - 5 keeps critical (margin).
                    None,
                    Some(Transition::SeverityChanged {
                        from: Critical,
                        to: Warning,
                        value: 84.0,
                    }),
                    // 76 > 80 - 5 keeps warning.
                    None,
                    Some(Transition::Cleared { value: 74.0 }),
                ],
            ),
            (
                &[85.0, 95.0],
                &[
                    Some(Transition::Opened {
                        severity: Warning,
                        value: 85.0,
                    }),
                    Some(Transition::SeverityChanged {
                        from: Warning,
                        to: Critical,
                        value: 95.0,
                    }),
                ],
            ),
        ];
        for (values, expected) in cases {
            assert_eq!(run(&rule, values), *expected, "{values:?}");
        }
    }

    #[test]
    fn for_seconds_waits_and_a_dip_resets() {
        let rule = cpu_rule(2);
        let got = run(&rule, &[95.0, 95.0, 50.0, 95.0, 95.0, 95.0]);
        assert_eq!(got[..5], [None, None, None, None, None]);
        assert_eq!(
            got[5],
            Some(Transition::Opened {
                severity: Severity::Critical,
                value: 95.0
            })
        );
    }

    #[test]
    fn every_operator() {
        let fire = |op: Op, limit: f64, value: f64| {
            let rule = Rule::new(op, None, Some(limit), 0, 0.0).unwrap();
            step(SeriesState::Ok, &rule, value, t(0)).1.is_some()
        };
        assert!(fire(Op::Gt, 1.0, 2.0) && !fire(Op::Gt, 1.0, 1.0));
        assert!(fire(Op::Ge, 1.0, 1.0) && !fire(Op::Ge, 1.0, 0.5));
        assert!(fire(Op::Lt, 1.0, 0.0) && !fire(Op::Lt, 1.0, 1.0));
        assert!(fire(Op::Le, 1.0, 1.0) && !fire(Op::Le, 1.0, 1.5));
        assert!(fire(Op::Eq, 0.0, 0.0) && !fire(Op::Eq, 0.0, 1.0));
        assert!(fire(Op::Ne, 0.0, 1.0) && !fire(Op::Ne, 0.0, 0.0));
    }

    #[test]
    fn rules_are_validated() {
        assert_eq!(
            Rule::new(Op::Gt, None, None, 0, 0.0),
            Err(RuleError::NoLevel)
        );
        assert_eq!(
            Rule::new(Op::Gt, Some(f64::NAN), None, 0, 0.0),
            Err(RuleError::NotFinite)
        );
        assert_eq!(
            Rule::new(Op::Gt, Some(1.0), None, 0, -1.0),
            Err(RuleError::NegativeMargin)
        );
    }

    fn any_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Gt),
            Just(Op::Ge),
            Just(Op::Lt),
            Just(Op::Le),
            Just(Op::Eq),
            Just(Op::Ne)
        ]
    }

    proptest! {
        /// Transitions always alternate correctly: every Cleared and SeverityChanged follows an
        /// open alert, and an Opened never happens while one is open.
        #[test]
        fn transitions_are_well_formed(
            op in any_op(),
            warning in proptest::option::of(-100.0f64..100.0),
            critical in -100.0f64..100.0,
            margin in 0.0f64..20.0,
            for_seconds in 0u32..4,
            values in proptest::collection::vec(-150.0f64..150.0, 1..60),
        ) {
            let rule = Rule::new(op, warning, Some(critical), for_seconds, margin).unwrap();
            let mut open: Option<Severity> = None;
            for tr in run(&rule, &values).into_iter().flatten() {
                match tr {
                    Transition::Opened { severity, .. } => {
                        prop_assert!(open.is_none());
                        open = Some(severity);
                    }
                    Transition::SeverityChanged { from, to, .. } => {
                        prop_assert_eq!(open, Some(from));
                        prop_assert_ne!(from, to);
                        open = Some(to);
                    }
                    Transition::Cleared { .. } => {
                        prop_assert!(open.is_some());
                        open = None;
                    }
                }
            }
        }

        /// Without a margin and delay, the firing severity is exactly the classification of the
        /// latest value.
        #[test]
        fn firing_severity_tracks_the_latest_value(
            op in any_op(),
            critical in -100.0f64..100.0,
            values in proptest::collection::vec(-150.0f64..150.0, 1..40),
        ) {
            let rule = Rule::new(op, None, Some(critical), 0, 0.0).unwrap();
            let mut state = SeriesState::Ok;
            for (i, v) in values.iter().enumerate() {
                state = step(state, &rule, *v, t(i as i64)).0;
                let expected = rule.classify(*v, None);
                let got = match state { SeriesState::Firing { severity } => Some(severity), _ => None };
                prop_assert_eq!(got, expected);
            }
        }
    }
}
