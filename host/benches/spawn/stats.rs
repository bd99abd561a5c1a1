//! Statistics over rounds: quantiles, and ratios of two candidates paired by round.

/// The `p`-quantile (nearest rank) of `values`; NaN if there are none.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// The median over rounds of `a`'s time divided by `b`'s in the same round (rounds either sat
/// out are skipped): the two ran side by side, so machine noise that lasts longer than a round
/// cancels out.
pub fn paired_ratio(a: &[Option<f64>], b: &[Option<f64>]) -> f64 {
    let ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(a, b)| Some((*a)? / (*b)?))
        .collect();
    median(&ratios)
}

/// The median of the values present; `None` if none is.
pub fn median_present(values: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    (!present.is_empty()).then(|| median(&present))
}

/// The median of the values present (the upper one of an even count); `None` if none is.
pub fn median_present_u64(values: &[Option<u64>]) -> Option<u64> {
    let mut present: Vec<u64> = values.iter().flatten().copied().collect();
    present.sort_unstable();
    present.get(present.len() / 2).copied()
}
