//! Printing figures: one JSON line each, with the baseline beside it.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// A throughput figure beside its same-run baseline.
pub fn throughput(bench: &str, unit: &str, rate: f64, baseline: &str, baseline_rate: f64) {
    let mut line = Map::new();
    line.insert("bench".into(), json!(bench));
    line.insert(unit.into(), json!(rate.round()));
    line.insert("baseline".into(), json!(baseline));
    line.insert("baseline_per_s".into(), json!(baseline_rate.round()));
    line.insert("ratio".into(), json!(round3(rate / baseline_rate)));
    println!("{}", Value::Object(line));
}

/// A latency figure (microseconds) beside its same-run baseline.
pub fn latency(bench: &str, measured: &Histogram<u64>, baseline: &str, base: &Histogram<u64>) {
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    println!(
        "{}",
        json!({
            "bench": bench,
            "samples": measured.len(),
            "p50_us": p(measured, 0.5),
            "p99_us": p(measured, 0.99),
            "max_us": measured.max(),
            "baseline": baseline,
            "baseline_p50_us": p(base, 0.5),
            "baseline_p99_us": p(base, 0.99),
            "ratio_p50": round3(p(base, 0.5) as f64 / p(measured, 0.5).max(1) as f64),
        })
    );
}

/// A histogram of microseconds up to a minute.
pub fn micros() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
