//! What every bench prints: its figure and its same-run ceiling (each the
//! median of the runs), the ratio, and the machine's load average, so a
//! reader knows whether the machine was busy.

use std::fmt;

/// One timed run: the rate it reached and, for the reader, what else was
/// measured (latencies, counts).
#[derive(Debug, Clone)]
pub struct Run {
    pub per_second: f64,
    pub detail: String,
}

impl Run {
    pub fn new(count: usize, seconds: f64, detail: impl Into<String>) -> Self {
        Self {
            per_second: count as f64 / seconds.max(f64::EPSILON),
            detail: detail.into(),
        }
    }
}

/// A figure and its ceiling, measured alternately in the same process.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub what: String,
    pub unit: &'static str,
    pub runs: Vec<Run>,
    pub ceiling: String,
    pub ceiling_unit: &'static str,
    pub ceiling_runs: Vec<Run>,
    /// `/proc/loadavg` before the first run and after the last.
    pub load_before: String,
    pub load_after: String,
}

impl Comparison {
    pub fn new(what: impl Into<String>, unit: &'static str) -> Self {
        Self {
            what: what.into(),
            unit,
            runs: Vec::new(),
            ceiling: String::new(),
            ceiling_unit: unit,
            ceiling_runs: Vec::new(),
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    pub fn ceiling(mut self, what: impl Into<String>, unit: &'static str) -> Self {
        self.ceiling = what.into();
        self.ceiling_unit = unit;
        self
    }

    pub fn finish(mut self) -> Self {
        self.load_after = load_average();
        self
    }

    /// The figure over the ceiling (medians), 0 without runs.
    pub fn ratio(&self) -> f64 {
        match (median(&self.runs), median(&self.ceiling_runs)) {
            (Some(f), Some(c)) if c.per_second > 0.0 => f.per_second / c.per_second,
            _ => 0.0,
        }
    }
}

/// The run with the median rate (the lower middle one of an even count).
pub fn median(runs: &[Run]) -> Option<&Run> {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

fn rates(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| format!("{:.0}", r.per_second))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    what: &str,
    unit: &str,
    runs: &[Run],
) -> fmt::Result {
    match median(runs) {
        Some(m) => {
            write!(f, "{label}: {what}: {:.0} {unit}", m.per_second)?;
            if !m.detail.is_empty() {
                write!(f, ", {}", m.detail)?;
            }
            writeln!(f, " (median of {} runs: {})", runs.len(), rates(runs))
        }
        None => writeln!(f, "{label}: {what}: not measured"),
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        line(f, "figure", &self.what, self.unit, &self.runs)?;
        line(
            f,
            "ceiling",
            &self.ceiling,
            self.ceiling_unit,
            &self.ceiling_runs,
        )?;
        writeln!(f, "ratio: {:.1}% of the ceiling", self.ratio() * 100.0)?;
        write!(
            f,
            "load average: {} before, {} after ({} cores)",
            self.load_before,
            self.load_after,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    }
}

/// The 1, 5 and 15 minute load averages (Linux), or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The `q` quantile (0..=1) of sorted latencies in microseconds, as ms.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64) -> Run {
        Run {
            per_second: rate,
            detail: format!("d{rate}"),
        }
    }

    #[test]
    fn the_median_is_the_middle_run() {
        let runs = [run(3.0), run(1.0), run(2.0)];
        assert_eq!(median(&runs).unwrap().detail, "d2");
        assert!(median(&[]).is_none());
    }

    #[test]
    fn the_ratio_divides_the_medians() {
        let mut c = Comparison::new("x", "x/s").ceiling("y", "y/s");
        c.runs = vec![run(10.0), run(30.0), run(20.0)];
        c.ceiling_runs = vec![run(80.0), run(40.0), run(100.0)];
        assert!((c.ratio() - 0.25).abs() < 1e-9);
        let text = c.finish().to_string();
        assert!(text.contains("ratio: 25.0% of the ceiling"), "{text}");
    }

    #[test]
    fn quantiles_of_latencies() {
        let us: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(quantile_ms(&us, 0.5), 51.0);
        assert_eq!(quantile_ms(&us, 0.99), 99.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }
}
