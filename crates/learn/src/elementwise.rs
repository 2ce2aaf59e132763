//! Elementwise kernels on f32 slices for the CPU kernels of [`crate::conv3x3`] and
//! [`crate::gru`]: the activations and their derivatives, written so that the compiler
//! vectorises them.
//!
//! The crate is built for baseline x86-64, whose vectors are 4 floats wide (SSE2), and libm's
//! `expf`/`tanhf` are scalar calls: profiled on a convgru update, a fifth of the time went to
//! them. [`vectorised`] runs a loop compiled for AVX-512 or AVX2 when the CPU has them, and
//! [`exp`] is a polynomial in plain multiplies and adds. No loop here uses a fused multiply-add
//! (Rust never contracts `a * b + c` on its own), so every instruction set gives the same bits
//! and training stays reproducible across machines.

use std::mem::MaybeUninit;

/// Runs `f`, inlined into a copy compiled for AVX-512 (or AVX2) when the CPU supports it.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { avx512(f) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `e^x` to within 2 ulp (relative error < 3·10⁻⁷) on `[-87, 88]`, clamped outside it, without
/// branches: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, Cephes' degree-6 polynomial for `e^r`,
/// and `2^n` built in the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // 1.5·2²³: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    // ln 2 in two parts (Cody–Waite), so `n·ln 2` is exact enough for |n| ≤ 127.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_65) * r + 0.5;
    let two_n = f32::from_bits(((t.to_bits() as i32 - ROUND.to_bits() as i32 + 127) << 23) as u32);
    (p * r * r + r + 1.0) * two_n
}

/// `1 / (1 + e^−x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x` as `(1 − e^−2|x|) / (1 + e^−2|x|)` with the sign of `x` (absolute error < 2·10⁻⁷).
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let e = exp(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// A nonlinearity applied elementwise after a fused convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// None: the pre-activation itself.
    Identity,
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
}

impl Activation {
    /// Applies the activation to every element of `v` in place.
    pub(crate) fn apply(self, v: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Sigmoid => vectorised(|| v.iter_mut().for_each(|x| *x = sigmoid(*x))),
            Activation::Tanh => vectorised(|| v.iter_mut().for_each(|x| *x = tanh(*x))),
        }
    }

    /// The gradient of the pre-activation from the gradient `grad` of the output `y` (each of
    /// these activations' derivatives is a function of its output), written to every element
    /// of `out`.
    pub(crate) fn backward(self, y: &[f32], grad: &[f32], out: &mut [MaybeUninit<f32>]) {
        // A generic closure per arm (not a function pointer) so that each loop is inlined and
        // vectorised.
        #[inline(always)]
        fn each(out: &mut [MaybeUninit<f32>], y: &[f32], grad: &[f32], f: impl Fn(f32, f32) -> f32) {
            vectorised(|| {
                out.iter_mut().zip(y).zip(grad).for_each(|((o, &y), &g)| {
                    o.write(f(y, g));
                })
            })
        }
        match self {
            Activation::Identity => each(out, y, grad, |_, g| g),
            // As burn's relu_backward: the gradient passes where the output is positive (or NaN).
            Activation::Relu => each(out, y, grad, |y, g| if y <= 0.0 { 0.0 } else { g }),
            Activation::Sigmoid => each(out, y, grad, |y, g| g * (y * (1.0 - y))),
            Activation::Tanh => each(out, y, grad, |y, g| g * (1.0 - y * y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The polynomial `exp`, `sigmoid` and `tanh` agree with the standard library's over the
    /// range a network produces and saturate cleanly far outside it.
    #[test]
    fn exp_sigmoid_and_tanh_match_the_standard_library() {
        let mut worst = (0.0f64, 0.0f64, 0.0f64);
        for i in -200_000..=200_000 {
            let x = i as f32 * 4.35e-4; // [-87, 87]
            let e = (x as f64).exp();
            worst.0 = worst.0.max(((exp(x) as f64) - e).abs() / e);
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            worst.1 = worst.1.max(((sigmoid(x) as f64) - s).abs());
            worst.2 = worst.2.max(((tanh(x) as f64) - (x as f64).tanh()).abs());
        }
        assert!(worst.0 < 3e-7, "exp relative error {}", worst.0);
        assert!(worst.1 < 2e-7, "sigmoid absolute error {}", worst.1);
        assert!(worst.2 < 3e-7, "tanh absolute error {}", worst.2);
        assert!(sigmoid(-1e6) < 1e-37);
        assert_eq!((sigmoid(1e6), tanh(-1e6), tanh(1e6)), (1.0, -1.0, 1.0));
        assert_eq!(tanh(0.0), 0.0);
    }

    /// Applied to slices through [`vectorised`], every activation gives the scalar function's
    /// bits, and each backward is the derivative written through the output.
    #[test]
    fn slice_activations_and_their_backward() {
        let x: Vec<f32> = (0..1037).map(|i| (i as f32 - 518.0) * 0.013).collect();
        let g: Vec<f32> = (0..1037).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        for (act, f, d) in [
            (Activation::Identity, (|x| x) as fn(f32) -> f32, (|_| 1.0) as fn(f32) -> f32),
            (Activation::Relu, |x: f32| x.max(0.0), |x: f32| if x > 0.0 { 1.0 } else { 0.0 }),
            (Activation::Sigmoid, sigmoid, |x| sigmoid(x) * (1.0 - sigmoid(x))),
            (Activation::Tanh, tanh, |x| 1.0 - tanh(x) * tanh(x)),
        ] {
            let mut y = x.clone();
            act.apply(&mut y);
            assert!(y.iter().zip(&x).all(|(y, &x)| y.to_bits() == f(x).to_bits()), "{act:?}");
            let mut dx = vec![MaybeUninit::uninit(); x.len()];
            act.backward(&y, &g, &mut dx);
            // SAFETY: backward writes every element.
            let dx: Vec<f32> = dx.into_iter().map(|d| unsafe { d.assume_init() }).collect();
            for ((dx, &x), &g) in dx.iter().zip(&x).zip(&g) {
                assert!((dx - g * d(x)).abs() <= 1e-6 * g.abs().max(1.0), "{act:?} at {x}");
            }
        }
    }
}
