//! One scenario's result: its figures (the keys, in order), the
//! targets they are set against and whether each was met, printed as a
//! human table or as one JSON object. A missed target is reported, never
//! an error: a benchmark prints, it does not assert.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// How big a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// The sizes.
    Full,
    /// `--quick`: every scenario at reduced size (`all` in minutes).
    Quick,
    /// `--tiny`: the CI smoke test's size; shape only, figures meaningless.
    Tiny,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Full => "full",
            Size::Quick => "quick",
            Size::Tiny => "tiny",
        }
    }

    /// `full`, `quick` or `tiny` of three values.
    pub fn pick<T>(self, full: T, quick: T, tiny: T) -> T {
        match self {
            Size::Full => full,
            Size::Quick => quick,
            Size::Tiny => tiny,
        }
    }
}

/// A target from the issue and whether the run met it.
pub struct Target {
    pub text: String,
    pub met: bool,
}

/// What one scenario measured.
pub struct Report {
    pub scenario: &'static str,
    pub size: Size,
    /// The keys with their values, in print order.
    pub figures: Vec<(&'static str, f64)>,
    pub targets: Vec<Target>,
    /// What was run, in words (sizes, settings).
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str, size: Size) -> Self {
        Self {
            scenario,
            size,
            figures: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn figure(&mut self, key: &'static str, value: f64) {
        self.figures.push((key, value));
    }

    pub fn target(&mut self, text: impl Into<String>, met: bool) {
        self.targets.push(Target {
            text: text.into(),
            met,
        });
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// `{"scenario": ..., <keys>..., "size": ..., "targets": [...], "notes": [...]}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("scenario".into(), json!(self.scenario));
        for (key, value) in &self.figures {
            // Two decimals are plenty and keep the JSON readable.
            object.insert((*key).into(), json!((value * 100.0).round() / 100.0));
        }
        object.insert("size".into(), json!(self.size.name()));
        object.insert(
            "targets".into(),
            Value::Array(
                self.targets
                    .iter()
                    .map(|t| json!({"target": t.text, "met": t.met}))
                    .collect(),
            ),
        );
        object.insert("notes".into(), json!(self.notes));
        Value::Object(object)
    }

    /// The human table.
    pub fn print(&self) {
        println!("\n== {} ({} size)", self.scenario, self.size.name());
        for note in &self.notes {
            println!("   {note}");
        }
        for (key, value) in &self.figures {
            println!("   {key:<30} {value:>12.2}");
        }
        for target in &self.targets {
            let mark = if target.met { "met   " } else { "MISSED" };
            println!("   target {mark} {}", target.text);
        }
    }
}

/// Nearest-rank percentile of `samples` (sorted here), in milliseconds; 0 when empty.
pub fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&mut samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&mut samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&mut [], 99.0), 0.0);
    }

    #[test]
    fn json_has_the_scenario_its_keys_and_targets() {
        let mut report = Report::new("ingest", Size::Tiny);
        report.figure("ratio", 0.456);
        report.target("ratio >= 0.5", false);
        let value = report.to_json();
        assert_eq!(value["scenario"], "ingest");
        assert_eq!(value["ratio"], 0.46);
        assert_eq!(value["targets"][0]["met"], false);
    }
}
