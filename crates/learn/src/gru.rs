//! The elementwise parts of a convolutional GRU tick as two fused operations with their own
//! backward passes, for the CPU (flex) backend: the reset `r ⊙ h` and the mix
//! `(1 − z) ⊙ n + z ⊙ h`, both reading the gates `[z | r]` straight from the gate convolution's
//! output `[rows, 2·channels]`.
//!
//! Written with burn's operations, a tick was a chunk of the gates into two views, a product, a
//! negation, a scalar add, two products and a sum, each its own pass over memory with its own
//! autodiff node (and strided copies of the views); profiled on a convgru update, these and the
//! scalar `expf`/`tanhf` calls of the activations took about half the time. Here each is one
//! pass, split over the cores by rows; the activations moved into the convolutions
//! ([`crate::conv3x3`]). Other devices compute the same formulas with burn's operations.

use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::prelude::*;

use crate::conv3x3::{flex_tensor, matrix, par_filled, runs_fused, slice, ACTIVATION_CHUNK};
use crate::elementwise::vectorised;

/// The tick's elementwise steps as backend operations (see the module docs). Only the flex
/// backend (and autodiff over it) implements them; [`reset`] and [`mix`] choose.
#[backend_extension(Flex, Autodiff)]
pub trait GruBackend: Backend {
    /// `r ⊙ h`, where `zr` `[rows, 2c]` holds `[z | r]` and `h` is `[rows, c]` → `[rows, c]`.
    fn gru_reset(zr: FloatTensor<Self>, h: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `n + z ⊙ (h − n)` (that is, `(1 − z) ⊙ n + z ⊙ h`) with `zr` `[rows, 2c]` holding
    /// `[z | r]` and `n`, `h` `[rows, c]` → `[rows, c]`.
    fn gru_mix(zr: FloatTensor<Self>, n: FloatTensor<Self>, h: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The reset gate applied to the state: `r ⊙ h` for gates `zr = [z | r]` `[rows, 2c]` and state
/// `h` `[rows, c]`.
pub fn reset(zr: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    if runs_fused(&h.device()) {
        return Tensor::from_dispatch(<Dispatch as GruBackend>::gru_reset(zr.into_dispatch(), h.into_dispatch()));
    }
    let c = h.dims()[1];
    zr.narrow(1, c, c) * h
}

/// The new state: `n + z ⊙ (h − n)` for gates `zr = [z | r]` `[rows, 2c]`, candidate `n` and
/// state `h` `[rows, c]`.
pub fn mix(zr: Tensor<2>, n: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    if runs_fused(&h.device()) {
        return Tensor::from_dispatch(<Dispatch as GruBackend>::gru_mix(zr.into_dispatch(), n.into_dispatch(), h.into_dispatch()));
    }
    let c = h.dims()[1];
    n.clone() + zr.narrow(1, 0, c) * (h - n)
}

/// A `[rows, width]` result whose row `i` `fill` writes (`fill(i, out)`), rows split over the
/// cores.
fn rows_filled(rows: usize, width: usize, fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> FlexTensor {
    let per_chunk = (ACTIVATION_CHUNK / width.max(1)).max(1);
    let v = par_filled(rows * width, per_chunk * width, |chunk, out| {
        vectorised(|| {
            for (i, row) in out.chunks_exact_mut(width).enumerate() {
                fill(chunk * per_chunk + i, row);
            }
        })
    });
    flex_tensor(v, &[rows, width])
}

/// Writes `f(a_k, b_k)` for every `k` into `out`.
#[inline(always)]
fn zip_write(out: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    out.iter_mut().zip(a).zip(b).for_each(|((o, &a), &b)| {
        o.write(f(a, b));
    });
}

impl GruBackend for Flex {
    fn gru_reset(zr: FlexTensor, h: FlexTensor) -> FlexTensor {
        let ((zr, ..), (h, rows, c)) = (matrix(&zr), matrix(&h));
        let (zr, h) = (slice(&zr), slice(&h));
        rows_filled(rows, c, |i, out| zip_write(out, &zr[(2 * i + 1) * c..][..c], &h[i * c..][..c], |r, h| r * h))
    }

    fn gru_mix(zr: FlexTensor, n: FlexTensor, h: FlexTensor) -> FlexTensor {
        let ((zr, ..), (n, ..), (h, rows, c)) = (matrix(&zr), matrix(&n), matrix(&h));
        let (zr, n, h) = (slice(&zr), slice(&n), slice(&h));
        rows_filled(rows, c, |i, out| {
            let (z, n, h) = (&zr[2 * i * c..][..c], &n[i * c..][..c], &h[i * c..][..c]);
            out.iter_mut().zip(z).zip(n.iter().zip(h)).for_each(|((o, &z), (&n, &h))| {
                o.write(n + z * (h - n));
            });
        })
    }
}

/// The backward step of [`GruBackend::gru_reset`]: `d zr = [0 | g ⊙ h]`, `d h = g ⊙ r`.
#[derive(Debug)]
struct ResetBackward;

impl Backward<Flex, 2> for ResetBackward {
    /// The gates and the state.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_zr, node_h] = ops.parents;
        let ((zr, ..), (h, rows, c)) = (matrix(&ops.state.0), matrix(&ops.state.1));
        let (grad, ..) = matrix(&grads.consume::<Flex>(&ops.node));
        let (zr, h, g) = (slice(&zr), slice(&h), slice(&grad));
        if let Some(node) = node_zr {
            let d = rows_filled(rows, 2 * c, |i, out| {
                let (dz, dr) = out.split_at_mut(c);
                dz.iter_mut().for_each(|o| {
                    o.write(0.0);
                });
                zip_write(dr, &g[i * c..][..c], &h[i * c..][..c], |g, h| g * h);
            });
            grads.register::<Flex>(node.id, d);
        }
        if let Some(node) = node_h {
            let d = rows_filled(rows, c, |i, out| zip_write(out, &g[i * c..][..c], &zr[(2 * i + 1) * c..][..c], |g, r| g * r));
            grads.register::<Flex>(node.id, d);
        }
    }
}

/// The backward step of [`GruBackend::gru_mix`]: `d zr = [g ⊙ (h − n) | 0]`,
/// `d n = g ⊙ (1 − z)`, `d h = g ⊙ z`.
#[derive(Debug)]
struct MixBackward;

impl Backward<Flex, 3> for MixBackward {
    /// The gates, the candidate and the state.
    type State = (FlexTensor, FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_zr, node_n, node_h] = ops.parents;
        let ((zr, ..), (n, ..), (h, rows, c)) = (matrix(&ops.state.0), matrix(&ops.state.1), matrix(&ops.state.2));
        let (grad, ..) = matrix(&grads.consume::<Flex>(&ops.node));
        let (zr, n, h, g) = (slice(&zr), slice(&n), slice(&h), slice(&grad));
        if let Some(node) = node_zr {
            let d = rows_filled(rows, 2 * c, |i, out| {
                let (dz, dr) = out.split_at_mut(c);
                let (g, n, h) = (&g[i * c..][..c], &n[i * c..][..c], &h[i * c..][..c]);
                dz.iter_mut().zip(g).zip(n.iter().zip(h)).for_each(|((o, &g), (&n, &h))| {
                    o.write(g * (h - n));
                });
                dr.iter_mut().for_each(|o| {
                    o.write(0.0);
                });
            });
            grads.register::<Flex>(node.id, d);
        }
        if let Some(node) = node_n {
            let d = rows_filled(rows, c, |i, out| zip_write(out, &g[i * c..][..c], &zr[2 * i * c..][..c], |g, z| g * (1.0 - z)));
            grads.register::<Flex>(node.id, d);
        }
        if let Some(node) = node_h {
            let d = rows_filled(rows, c, |i, out| zip_write(out, &g[i * c..][..c], &zr[2 * i * c..][..c], |g, z| g * z));
            grads.register::<Flex>(node.id, d);
        }
    }
}

impl<C: CheckpointStrategy> GruBackend for Autodiff<Flex, C> {
    fn gru_reset(zr: FloatTensor<Self>, h: FloatTensor<Self>) -> FloatTensor<Self> {
        match ResetBackward.prepare::<C>([zr.node(), h.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let state = (zr.primitive().clone(), h.primitive().clone());
                prep.finish(state, Flex::gru_reset(zr.into_primitive(), h.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gru_reset(zr.into_primitive(), h.into_primitive())),
        }
    }

    fn gru_mix(zr: FloatTensor<Self>, n: FloatTensor<Self>, h: FloatTensor<Self>) -> FloatTensor<Self> {
        match MixBackward.prepare::<C>([zr.node(), n.node(), h.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let state = (zr.primitive().clone(), n.primitive().clone(), h.primitive().clone());
                prep.finish(state, Flex::gru_mix(zr.into_primitive(), n.into_primitive(), h.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gru_mix(zr.into_primitive(), n.into_primitive(), h.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused reset and mix give the values and the gradients (for the gates, the candidate
    /// and the state) of the same formulas written with burn's operations.
    #[test]
    fn fused_reset_and_mix_match_burn_ops_values_and_gradients() {
        let device = Device::flex().autodiff();
        assert!(runs_fused(&device));
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        // A few rows, and enough rows to span several parallel chunks.
        for (rows, c) in [(3, 4), (1, 1), (2_000, 16)] {
            let zr = burn::tensor::activation::sigmoid(Tensor::<2>::random([rows, 2 * c], dist, &device)).detach().require_grad();
            let n = Tensor::<2>::random([rows, c], dist, &device).require_grad();
            let h = Tensor::<2>::random([rows, c], dist, &device).require_grad();
            let weights = Tensor::<2>::random([rows, c], dist, &device);
            let reference = |zr: Tensor<2>, n: Tensor<2>, h: Tensor<2>| {
                let [z, r] = zr.chunk(2, 1).try_into().unwrap();
                ((z.clone().neg() + 1.0) * n + z * h.clone(), r * h)
            };
            let (mix_ref, reset_ref) = reference(zr.clone(), n.clone(), h.clone());
            let (mix_ours, reset_ours) = (mix(zr.clone(), n.clone(), h.clone()), reset(zr.clone(), h.clone()));
            for (name, ours, reference) in [("mix", mix_ours.clone(), mix_ref.clone()), ("reset", reset_ours.clone(), reset_ref.clone())] {
                let err: f32 = (ours - reference).abs().max().into_scalar();
                assert!(err < 1e-5, "{name} values differ by {err} ({rows}×{c})");
            }
            // Both outputs in one loss, weighted differently, so every gradient path is tested.
            let grads_of = |mixed: Tensor<2>, reset: Tensor<2>| {
                let g = (mixed * weights.clone() + reset * weights.clone().powi_scalar(2)).sum().backward();
                [zr.grad(&g).unwrap(), n.grad(&g).unwrap(), h.grad(&g).unwrap()]
            };
            let (a, b) = (grads_of(mix_ours, reset_ours), grads_of(mix_ref, reset_ref));
            for ((name, a), b) in ["gates", "candidate", "state"].into_iter().zip(a).zip(b) {
                let err: f32 = (a - b).abs().max().into_scalar();
                assert!(err < 1e-5, "{name} gradient differs by {err} ({rows}×{c})");
            }
        }
    }
}
