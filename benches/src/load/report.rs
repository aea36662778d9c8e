//! The harness's report: each figure with its target (from the issue) and how far it is from
//! it, printed as a table and written as JSON and Markdown.

use serde_json::{Map, Value, json};

/// Keys every `report.json` has, as numbers.
pub const REQUIRED_KEYS: [&str; 8] = [
    "e2e_points_per_s",
    "copy_baseline_rows_per_s",
    "e2e_to_copy_ratio",
    "alert_latency_p99_ms",
    "idle_devices",
    "idle_rss_mib",
    "burst_peak_rss_mib",
    "burst_lost_messages",
];

/// What a figure should be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    /// Reported for context only.
    None,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Figure {
    pub key: &'static str,
    pub label: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub goal: Goal,
}

impl Figure {
    pub fn new(
        key: &'static str,
        label: &'static str,
        value: f64,
        unit: &'static str,
        goal: Goal,
    ) -> Figure {
        Figure {
            key,
            label,
            value,
            unit,
            goal,
        }
    }

    /// Value over target (at least) or target over value (at most): ≥ 1 means met.
    pub fn ratio(&self) -> Option<f64> {
        match self.goal {
            Goal::AtLeast(t) if t > 0.0 => Some(self.value / t),
            Goal::AtMost(t) if t > 0.0 && self.value > 0.0 => Some(t / self.value),
            _ => None,
        }
    }

    pub fn met(&self) -> Option<bool> {
        match self.goal {
            Goal::AtLeast(t) => Some(self.value >= t),
            Goal::AtMost(t) => Some(self.value <= t),
            Goal::None => None,
        }
    }

    fn target_text(&self) -> String {
        match self.goal {
            Goal::AtLeast(t) => format!(">= {}", number(t)),
            Goal::AtMost(t) => format!("<= {}", number(t)),
            Goal::None => "-".into(),
        }
    }
}

/// A number for people: integers without decimals, small values with up to three.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v.abs() >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub figures: Vec<Figure>,
    /// Everything else: machine, command, per-phase details.
    pub context: Map<String, Value>,
}

impl Report {
    /// Flat numeric keys for every figure, `targets`, then the context.
    pub fn json(&self) -> Value {
        let mut out = Map::new();
        let mut targets = Map::new();
        for f in &self.figures {
            let value = serde_json::Number::from_f64(f.value).map_or(Value::Null, Value::Number);
            out.insert(f.key.into(), value);
            let goal = match f.goal {
                Goal::AtLeast(t) => json!({"op": ">=", "value": t, "met": f.value >= t}),
                Goal::AtMost(t) => json!({"op": "<=", "value": t, "met": f.value <= t}),
                Goal::None => continue,
            };
            targets.insert(f.key.into(), goal);
        }
        out.insert("targets".into(), Value::Object(targets));
        for (k, v) in &self.context {
            out.insert(k.clone(), v.clone());
        }
        Value::Object(out)
    }

    fn rows(&self) -> Vec<[String; 5]> {
        self.figures
            .iter()
            .map(|f| {
                [
                    f.label.to_owned(),
                    format!("{} {}", number(f.value), f.unit)
                        .trim_end()
                        .to_owned(),
                    format!(
                        "{} {}",
                        f.target_text(),
                        if f.goal == Goal::None { "" } else { f.unit }
                    )
                    .trim_end()
                    .to_owned(),
                    f.ratio().map_or("-".into(), |r| format!("{r:.2}")),
                    match f.met() {
                        Some(true) => "yes".into(),
                        Some(false) => "NO".into(),
                        None => "-".into(),
                    },
                ]
            })
            .collect()
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let header = ["figure", "value", "target", "ratio", "met"].map(String::from);
        let rows = self.rows();
        let mut width = [0usize; 5];
        for row in std::iter::once(&header).chain(rows.iter()) {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for (i, row) in std::iter::once(&header).chain(rows.iter()).enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(width)
                .enumerate()
                .map(|(c, (cell, w))| {
                    let pad = w - cell.chars().count();
                    if c == 0 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
            if i == 0 {
                out.push_str(&"-".repeat(width.iter().sum::<usize>() + 8));
                out.push('\n');
            }
        }
        out
    }

    /// The same table in Markdown, with the machine and the command.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Centinela benchmark report\n\n");
        for key in ["command", "started_at", "quick"] {
            if let Some(v) = self.context.get(key) {
                out.push_str(&format!("- {key}: `{}`\n", plain(v)));
            }
        }
        if let Some(Value::Object(machine)) = self.context.get("machine") {
            for (k, v) in machine {
                out.push_str(&format!("- machine.{k}: {}\n", plain(v)));
            }
        }
        out.push_str("\n| figure | value | target | ratio | met |\n|---|---:|---:|---:|:-:|\n");
        for row in self.rows() {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::default();
        for key in REQUIRED_KEYS {
            r.figures.push(Figure::new(key, key, 1.5, "", Goal::None));
        }
        r.figures.push(Figure::new(
            "x_per_s",
            "x",
            75_000.0,
            "pts/s",
            Goal::AtLeast(150_000.0),
        ));
        r.figures
            .push(Figure::new("p99", "p99", 25.0, "ms", Goal::AtMost(50.0)));
        r.figures
            .push(Figure::new("lost", "lost", 0.0, "", Goal::AtMost(0.0)));
        r.context.insert("machine".into(), json!({"cores": 2}));
        r
    }

    #[test]
    fn the_json_has_every_required_key_as_a_number() {
        let json = sample().json();
        for key in REQUIRED_KEYS {
            assert!(json[key].is_number(), "{key} missing or not a number");
        }
        assert_eq!(json["targets"]["x_per_s"]["met"], false);
        assert_eq!(json["targets"]["p99"]["met"], true);
        assert_eq!(json["targets"]["lost"]["met"], true);
        assert_eq!(json["machine"]["cores"], 2);
    }

    #[test]
    fn ratios_say_how_far_from_the_target() {
        let r = sample();
        let by_key = |k: &str| r.figures.iter().find(|f| f.key == k).unwrap().clone();
        assert_eq!(by_key("x_per_s").ratio(), Some(0.5));
        assert_eq!(by_key("p99").ratio(), Some(2.0));
        assert_eq!(by_key("lost").ratio(), None);
        assert_eq!(by_key("lost").met(), Some(true));
        let table = r.table();
        assert!(table.contains("75000 pts/s") && table.contains(">= 150000 pts/s"));
        assert!(
            r.markdown()
                .contains("| x | 75000 pts/s | >= 150000 pts/s | 0.50 | NO |")
        );
    }
}
