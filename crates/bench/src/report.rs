//! Printing figures: one JSON line each, with the baseline beside it.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// A throughput figure beside its same-run baseline.
pub fn throughput(bench: &str, unit: &str, rate: f64, baseline: &str, baseline_rate: f64) {
    let line = throughput_line(
        bench,
        unit,
        (rate, baseline_rate),
        baseline,
        rate / baseline_rate,
    );
    println!("{}", Value::Object(line));
}

/// The fields every throughput line has: the rate, the baseline's name and
/// rate, and the ratio between them (as the caller defines it).
fn throughput_line(
    bench: &str,
    unit: &str,
    (rate, baseline_rate): (f64, f64),
    baseline: &str,
    ratio: f64,
) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("bench".into(), json!(bench));
    line.insert(unit.into(), json!(rate.round()));
    line.insert("baseline".into(), json!(baseline));
    line.insert("baseline_per_s".into(), json!(baseline_rate.round()));
    line.insert("ratio".into(), json!(round3(ratio)));
    line
}

/// A throughput figure measured in pairs of (rate, baseline rate) taken
/// one after the other: pairing keeps a machine whose speed drifts during
/// the run (a shared host) from favouring whichever side ran in a fast
/// spell.
#[derive(Debug, PartialEq)]
pub struct Paired {
    /// The median rate.
    pub rate: f64,
    /// The median baseline rate.
    pub baseline_rate: f64,
    /// The median of the pairs' own ratios (not the ratio of the medians).
    pub ratio: f64,
    /// The lowest and the highest pair's ratio.
    pub ratio_range: (f64, f64),
    /// How many pairs were measured.
    pub pairs: usize,
}

impl Paired {
    /// The figure of `pairs`; `None` when there are none.
    pub fn of(pairs: &[(f64, f64)]) -> Option<Paired> {
        let ratios: Vec<f64> = pairs.iter().map(|(rate, base)| rate / base).collect();
        Some(Paired {
            rate: median(pairs.iter().map(|p| p.0).collect())?,
            baseline_rate: median(pairs.iter().map(|p| p.1).collect())?,
            ratio: median(ratios.clone())?,
            ratio_range: (
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ),
            pairs: pairs.len(),
        })
    }
}

/// The middle value (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 0 => Some((values[middle - 1] + values[middle]) / 2.0),
        _ => Some(values[middle]),
    }
}

/// Prints a [`Paired`] throughput figure beside its baseline.
pub fn paired_throughput(bench: &str, unit: &str, figure: &Paired, baseline: &str) {
    let mut line = throughput_line(
        bench,
        unit,
        (figure.rate, figure.baseline_rate),
        baseline,
        figure.ratio,
    );
    line.insert("pairs".into(), json!(figure.pairs));
    line.insert("ratio_min".into(), json!(round3(figure.ratio_range.0)));
    line.insert("ratio_max".into(), json!(round3(figure.ratio_range.1)));
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

/// `x` to three decimals, as the figures are printed.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::Paired;

    #[test]
    fn a_paired_figure_takes_the_median_of_the_pairs_own_ratios() {
        // A fast spell lifts both sides of the second pair: its ratio is
        // the same as the others', and the median ratio stays 2.
        let figure = Paired::of(&[(20.0, 10.0), (90.0, 45.0), (30.0, 10.0)]).expect("pairs");
        assert_eq!(figure.ratio, 2.0);
        assert_eq!(figure.rate, 30.0);
        assert_eq!(figure.baseline_rate, 10.0);
        assert_eq!(figure.ratio_range, (2.0, 3.0));
        assert_eq!(figure.pairs, 3);
    }

    #[test]
    fn an_even_number_of_pairs_takes_the_mean_of_the_middle_two() {
        let figure = Paired::of(&[(10.0, 10.0), (30.0, 10.0)]).expect("pairs");
        assert_eq!(figure.ratio, 2.0);
        assert_eq!(figure.rate, 20.0);
    }

    #[test]
    fn no_pairs_make_no_figure() {
        assert_eq!(Paired::of(&[]), None);
    }
}
