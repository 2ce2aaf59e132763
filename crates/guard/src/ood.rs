//! Out-of-distribution detectors over feature vectors (observations or named activations):
//! Mahalanobis distance to the training features (one class, shrinkage covariance) and the
//! distance to the k-th nearest training feature vector. Both are fitted on a training slice;
//! their thresholds are set on a separate held-out slice (see [`crate::threshold`]).

use nalgebra::{DMatrix, DVector};

/// Shrinkage towards a scaled identity: `Σ = (1 − α)·S + α·(tr S / d)·I`. Feature vectors are
/// wider than the samples are many (a 9×9×8 observation has 648 entries), so the sample
/// covariance is singular without it.
const SHRINKAGE: f64 = 0.1;

/// A fitted detector: a score per feature vector, larger = more unusual.
pub trait Detector: Send + Sync {
    /// The score of `x`.
    fn score(&self, x: &[f32]) -> f64;
}

/// Mahalanobis distance to the training mean under a shrinkage covariance.
pub struct Mahalanobis {
    mean: DVector<f64>,
    precision: DMatrix<f64>,
}

impl Mahalanobis {
    /// Fits mean and precision to `samples` (each of the same width); `None` without samples.
    pub fn fit(samples: &[Vec<f32>]) -> Option<Mahalanobis> {
        let n = samples.len();
        let d = samples.first()?.len();
        let x = DMatrix::from_fn(n, d, |i, j| samples[i][j] as f64);
        let mean = DVector::from_fn(d, |j, _| x.column(j).mean());
        let centred = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
        let mut cov = (centred.transpose() * &centred) / (n.max(2) - 1) as f64;
        let scale = (cov.trace() / d as f64).max(1e-6);
        cov *= 1.0 - SHRINKAGE;
        for i in 0..d {
            cov[(i, i)] += SHRINKAGE * scale;
        }
        let precision = cov.cholesky()?.inverse();
        Some(Mahalanobis { mean, precision })
    }
}

impl Detector for Mahalanobis {
    fn score(&self, x: &[f32]) -> f64 {
        let v = DVector::from_fn(self.mean.len(), |j, _| x.get(j).copied().unwrap_or(0.0) as f64 - self.mean[j]);
        (v.transpose() * &self.precision * &v)[(0, 0)].max(0.0).sqrt()
    }
}

/// Euclidean distance to the k-th nearest training feature vector.
pub struct KNearest {
    reference: Vec<Vec<f32>>,
    k: usize,
}

impl KNearest {
    /// Keeps `samples` as the reference set.
    pub fn fit(samples: &[Vec<f32>], k: usize) -> KNearest {
        KNearest { reference: samples.to_vec(), k: k.max(1) }
    }
}

impl Detector for KNearest {
    fn score(&self, x: &[f32]) -> f64 {
        let mut d: Vec<f64> = self.reference.iter().map(|r| r.iter().zip(x).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>()).collect();
        let k = self.k.min(d.len()).max(1) - 1;
        if d.is_empty() {
            return 0.0;
        }
        d.select_nth_unstable_by(k, f64::total_cmp);
        d[k].sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_points_score_higher_than_near_ones() {
        let train: Vec<Vec<f32>> = (0..200).map(|i| vec![(i % 7) as f32 * 0.1, (i % 5) as f32 * 0.1, 0.0]).collect();
        let m = Mahalanobis::fit(&train).unwrap();
        let k = KNearest::fit(&train, 5);
        let (near, far) = ([0.3f32, 0.2, 0.0], [0.3f32, 0.2, 5.0]);
        assert!(m.score(&far) > 3.0 * m.score(&near));
        assert!(k.score(&far) > 3.0 * k.score(&near).max(0.01));
    }
}
