//! The toy model of section 2.1 (conditions-for-mesa-optimization.txt, DESIGN.md): a base
//! optimizer with `x` bits spends `f(y)` of them building a `y`-bit runtime optimizer and
//! spreads the rest over `N` instances, so each instance gets
//! `T(y) = (x − f(y))/N + y` bits of optimization, subject to `f(y) ≤ x`. The optimal `y`
//! grows with `N`: the more diverse the task, the more of the optimization is done at
//! runtime. Its empirical counterpart is the diversity sweep's OP(novel)/OP(train).

use serde::{Deserialize, Serialize};

use crate::LabError;

/// The cost `f(y)` of a `y`-bit runtime optimizer, times a scale `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cost {
    /// `f(y) = c·y`.
    Linear,
    /// `f(y) = c·y²`.
    Quadratic,
    /// `f(y) = c·(2^y − 1)`.
    Exponential,
}

impl Cost {
    /// Names accepted on the command line.
    pub const NAMES: [&'static str; 3] = ["linear", "quadratic", "exponential"];

    /// Parses a name.
    pub fn from_name(name: &str) -> Result<Cost, LabError> {
        match name {
            "linear" => Ok(Cost::Linear),
            "quadratic" => Ok(Cost::Quadratic),
            "exponential" => Ok(Cost::Exponential),
            _ => Err(LabError::Spec { field: "cost".into(), message: format!("unknown cost function '{name}' (known: {})", Cost::NAMES.join(", ")) }),
        }
    }

    /// The name [`Cost::from_name`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Cost::Linear => "linear",
            Cost::Quadratic => "quadratic",
            Cost::Exponential => "exponential",
        }
    }

    /// `f(y)` at scale `c`.
    pub fn cost(self, y: f64, c: f64) -> f64 {
        match self {
            Cost::Linear => c * y,
            Cost::Quadratic => c * y * y,
            Cost::Exponential => c * (y.exp2() - 1.0),
        }
    }

    /// The largest affordable `y`: `f(y) = x`.
    pub fn max_y(self, x: f64, c: f64) -> f64 {
        match self {
            Cost::Linear => x / c,
            Cost::Quadratic => (x / c).sqrt(),
            Cost::Exponential => (x / c + 1.0).log2(),
        }
    }
}

/// The optimum of the toy model for one `N`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToySolution {
    /// Number of instances.
    pub n: f64,
    /// Optimal runtime (mesa-optimizer) bits `y*`.
    pub y: f64,
    /// Per-instance optimization `T(y*)`.
    pub per_instance: f64,
    /// The memorized part `(x − f(y*))/N`.
    pub memorized: f64,
    /// `y* / T(y*)`: the share done at runtime.
    pub runtime_share: f64,
}

/// Maximises `T(y)` over `0 ≤ y ≤ f⁻¹(x)`. `T` is concave for every cost here (convex `f`), so
/// a golden-section search finds the maximum; the end points are compared too.
pub fn solve(x: f64, cost: Cost, scale: f64, n: f64) -> Result<ToySolution, LabError> {
    let bad = |field: &str, message: String| Err(LabError::Spec { field: field.into(), message });
    if !(x.is_finite() && x > 0.0) {
        return bad("x", format!("{x} must be a positive number of bits"));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return bad("scale", format!("{scale} must be positive"));
    }
    if n.is_nan() || n < 1.0 {
        return bad("n", format!("{n} must be at least 1"));
    }
    let t = |y: f64| (x - cost.cost(y, scale)) / n + y;
    let (mut lo, mut hi) = (0.0, cost.max_y(x, scale));
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (a, b) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
        if t(a) < t(b) {
            lo = a;
        } else {
            hi = b;
        }
    }
    let y = [0.0, 0.5 * (lo + hi), cost.max_y(x, scale)].into_iter().max_by(|a, b| t(*a).total_cmp(&t(*b))).unwrap_or(0.0);
    let per_instance = t(y);
    Ok(ToySolution { n, y, per_instance, memorized: per_instance - y, runtime_share: if per_instance > 0.0 { y / per_instance } else { 0.0 } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        // Quadratic: T'(y) = 1 − 2cy/N = 0 ⇒ y* = N/(2c), capped at √(x/c).
        let s = solve(100.0, Cost::Quadratic, 1.0, 4.0).unwrap();
        assert!((s.y - 2.0).abs() < 1e-6, "{s:?}");
        assert!((s.per_instance - ((100.0 - 4.0) / 4.0 + 2.0)).abs() < 1e-6);
        assert!((solve(100.0, Cost::Quadratic, 1.0, 1e6).unwrap().y - 10.0).abs() < 1e-6, "capped by the budget");
        // Linear: all-or-nothing at N = c.
        assert_eq!(solve(100.0, Cost::Linear, 2.0, 1.5).unwrap().y, 0.0);
        assert!((solve(100.0, Cost::Linear, 2.0, 3.0).unwrap().y - 50.0).abs() < 1e-6);
        // Exponential: f'(y) = c·ln2·2^y = N ⇒ y* = log2(N/(c ln 2)).
        let s = solve(1e6, Cost::Exponential, 1.0, 64.0).unwrap();
        assert!((s.y - (64.0 / 2f64.ln()).log2()).abs() < 1e-6, "{s:?}");
        // More instances, more runtime optimization.
        let shares: Vec<f64> = [1.0, 4.0, 16.0, 64.0].iter().map(|&n| solve(100.0, Cost::Quadratic, 1.0, n).unwrap().runtime_share).collect();
        assert!(shares.windows(2).all(|w| w[0] < w[1]), "{shares:?}");
        assert!(solve(-1.0, Cost::Linear, 1.0, 1.0).is_err() && solve(1.0, Cost::Linear, 1.0, 0.5).is_err());
    }
}
