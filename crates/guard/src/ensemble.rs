//! Uncertainty from an ensemble of agents trained with different seeds: the mutual information
//! between the ensemble member and the action, `H(mean p) − mean H(p)` — zero when the members
//! agree, large when each is confident of a different action — and the calibration of the
//! agents' value predictions (expected calibration error against the realised return).

/// Softmax of logits.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let w: Vec<f64> = logits.iter().map(|&l| (l as f64 - top).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|x| **x > 0.0).map(|x| x * x.ln()).sum::<f64>()
}

/// Mutual information (nats) of the members' action distributions.
pub fn mutual_information(members: &[Vec<f64>]) -> f64 {
    if members.is_empty() {
        return 0.0;
    }
    let k = members.len() as f64;
    let mean: Vec<f64> = (0..members[0].len()).map(|a| members.iter().map(|p| p[a]).sum::<f64>() / k).collect();
    (entropy(&mean) - members.iter().map(|p| entropy(p)).sum::<f64>() / k).max(0.0)
}

/// Expected calibration error of value predictions: predictions are binned into `bins`
/// equal-width bins over their range; the error is the sample-weighted mean of
/// |mean prediction − mean realised return| per bin.
pub fn expected_calibration_error(predicted: &[f64], realised: &[f64], bins: usize) -> f64 {
    let n = predicted.len().min(realised.len());
    if n == 0 || bins == 0 {
        return f64::NAN;
    }
    let lo = predicted.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = predicted.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = ((hi - lo) / bins as f64).max(1e-12);
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for i in 0..n {
        let b = (((predicted[i] - lo) / width) as usize).min(bins - 1);
        sums[b].0 += predicted[i];
        sums[b].1 += realised[i];
        sums[b].2 += 1;
    }
    sums.iter().filter(|s| s.2 > 0).map(|(p, r, _)| (p - r).abs()).sum::<f64>() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_has_no_mutual_information_and_calibrated_values_no_error() {
        let p = vec![0.7, 0.1, 0.1, 0.05, 0.05];
        assert!(mutual_information(&[p.clone(), p.clone(), p]) < 1e-12);
        let split = mutual_information(&[vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert!((split - 2f64.ln()).abs() < 1e-9);
        let x = [0.1, 0.5, 0.9, 0.5];
        assert!(expected_calibration_error(&x, &x, 5) < 1e-12);
        assert!((expected_calibration_error(&x, &[0.2, 0.6, 1.0, 0.6], 5) - 0.1).abs() < 1e-9);
    }
}
