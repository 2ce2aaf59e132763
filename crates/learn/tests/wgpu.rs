//! The wgpu backend computes what the CPU (flex) backend computes, for every model kind: the
//! forward pass (logits, values, recurrent state, named activations), the gradients of a loss
//! over all of them, one plain gradient step, and one whole PPO update (rollout, advantages,
//! minibatch epochs with Adam) with its metrics and resulting weights.
//!
//! Built only with `--features wgpu` (`scripts/test-gpu` runs it), so the default test suite
//! needs no GPU and no Vulkan driver. It needs a wgpu adapter: a GPU, or a software one such as
//! Mesa's lavapipe (Debian's `mesa-vulkan-drivers`), on which it checks correctness, not speed.
//!
//! The two backends do not add in the same order (flex tiles its fused convolution and sums
//! per tile, a GPU matmul splits its reductions over workgroups), so values are compared within
//! a tolerance relative to each tensor's scale, not bit for bit: float32 rounding leaves
//! differences around 1e-6 of that scale; a wrong kernel, layout or gather is off by the scale
//! itself.

#![cfg(feature = "wgpu")]

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use mesascope_learn::eval::sample_observations;
use mesascope_learn::model::{ActorCritic, ForwardOutput};
use mesascope_learn::{init_model, TrainConfig, Trainer, UpdateMetrics};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

const KINDS: [&str; 3] = ["mlp", "cnn", "convgru"];

/// Largest difference allowed, as a fraction of the larger of the two tensors' largest
/// magnitude (see the module docs for why a tolerance and why this one).
const RTOL: f64 = 1e-4;

/// A small config of `kind` on 7×7 mazes, on `device`.
fn config(kind: &str, device: &str) -> TrainConfig {
    let o: Vec<String> = [
        format!("model.kind=\"{kind}\""),
        format!("device=\"{device}\""),
        "env.size=7".into(),
        "model.hidden=32".into(),
        "model.channels=8".into(),
        "model.ticks=2".into(),
        "ppo.num_envs=8".into(),
        "ppo.num_steps=16".into(),
        "ppo.num_minibatches=2".into(),
        "ppo.update_epochs=2".into(),
        "ppo.bptt_len=4".into(),
        "eval.levels=1".into(),
        "eval.every_updates=0".into(),
        "seed=5".into(),
    ]
    .into_iter()
    .collect();
    TrainConfig::from_toml_with("", &o).unwrap()
}

fn wgpu() -> Device {
    mesascope_learn::device("wgpu").expect("built with the wgpu feature")
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// The same values on another device.
fn moved<const D: usize>(t: &Tensor<D>, device: &Device) -> Tensor<D> {
    Tensor::from_data(t.to_data(), device)
}

/// Panics naming `what` unless `got` (wgpu) and `want` (flex) agree within [`RTOL`] of their
/// scale; returns the largest difference relative to that scale.
fn assert_close(what: &str, got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = got.iter().chain(want).fold(0.0f64, |m, &v| m.max((v as f64).abs()));
    let worst = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w as f64).abs()).fold(0.0, f64::max);
    let relative = if scale > 0.0 { worst / scale } else { 0.0 };
    assert!(got.iter().all(|v| v.is_finite()), "{what}: wgpu gave a non-finite value");
    assert!(relative <= RTOL, "{what}: wgpu and flex differ by {worst:e} at scale {scale:e} ({relative:e} relative, allowed {RTOL:e})");
    relative
}

/// Every float parameter of a model, flattened, in visiting order.
fn parameters(model: &ActorCritic) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(values(param.val()));
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// Every parameter's gradient in `grads`, flattened, in visiting order.
fn gradients(model: &ActorCritic, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = self.0.get::<D>(param.id).expect("every parameter has a gradient");
            self.1.push(values(g));
        }
    }
    let mut c = Collect(grads, Vec::new());
    model.visit(&mut c);
    c.1
}

/// The inputs of one check: real observations of the config's mazes, a random recurrent state
/// (so the GRU's gates see more than zeros), and fixed weights for the loss.
struct Inputs {
    obs: Tensor<4>,
    hidden: Option<Tensor<4>>,
    logit_weights: Tensor<2>,
    value_targets: Tensor<1>,
}

fn inputs(cfg: &TrainConfig, batch: usize) -> Inputs {
    let cpu = Device::flex();
    let obs = sample_observations(cfg, batch, 11, &cpu).unwrap();
    let [_, _, h, w] = obs.dims();
    let mut rng = Pcg64Mcg::seed_from_u64(12);
    let mut random = |n: usize| (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect::<Vec<f32>>();
    let channels = cfg.model.channels;
    let hidden = cfg.model.recurrent().then(|| Tensor::from_data(TensorData::new(random(batch * channels * h * w), [batch, channels, h, w]), &cpu));
    let logit_weights = Tensor::from_data(TensorData::new(random(batch * 5), [batch, 5]), &cpu);
    let value_targets = Tensor::from_data(TensorData::new(random(batch), [batch]), &cpu);
    Inputs { obs, hidden, logit_weights, value_targets }
}

/// A forward pass of `model` on `device` with activations recorded.
fn forward(model: &ActorCritic, x: &Inputs, device: &Device) -> ForwardOutput {
    model.forward(moved(&x.obs, device), x.hidden.as_ref().map(|h| moved(h, device)), 2, true)
}

/// A loss that reaches every parameter through every output: a weighted sum of the
/// log-probabilities (as the policy loss and entropy read them), the values' squared error and
/// the new recurrent state's mean square.
fn loss(out: ForwardOutput, x: &Inputs, device: &Device) -> Tensor<1> {
    let policy = (log_softmax(out.logits, 1) * moved(&x.logit_weights, device)).sum();
    let value = (out.value - moved(&x.value_targets, device)).powi_scalar(2).mean();
    match out.hidden {
        Some(h) => policy + value + h.powi_scalar(2).mean(),
        None => policy + value,
    }
}

#[test]
fn every_model_kind_gives_the_same_forward_pass_gradients_and_step_on_wgpu_as_on_the_cpu() {
    let (cpu, gpu) = (Device::flex().autodiff(), wgpu().autodiff());
    for kind in KINDS {
        let cfg = config(kind, "cpu");
        let x = inputs(&cfg, 24);
        let shape = (x.obs.dims()[1], x.obs.dims()[2], x.obs.dims()[3]);
        // The weights are drawn from a Rust random stream, so both devices start from the same.
        let (model_cpu, model_gpu) = (init_model(&cfg.model, shape, &cpu, cfg.seed), init_model(&cfg.model, shape, &gpu, cfg.seed));
        for (i, (g, c)) in parameters(&model_gpu).iter().zip(parameters(&model_cpu)).enumerate() {
            assert_eq!(g, &c, "{kind}: initial parameter {i} differs");
        }

        // Forward: every output and every named activation.
        let (out_cpu, out_gpu) = (forward(&model_cpu, &x, &cpu), forward(&model_gpu, &x, &gpu));
        let mut worst = 0.0f64;
        worst = worst.max(assert_close(&format!("{kind} logits"), &values(out_gpu.logits), &values(out_cpu.logits)));
        worst = worst.max(assert_close(&format!("{kind} values"), &values(out_gpu.value), &values(out_cpu.value)));
        let names = |a: &[(String, Tensor<2>)]| a.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&out_gpu.activations), names(&out_cpu.activations), "{kind}: activation names");
        assert_eq!(out_gpu.hidden.is_some(), out_cpu.hidden.is_some(), "{kind}: recurrent state");
        if let (Some(g), Some(c)) = (out_gpu.hidden, out_cpu.hidden) {
            worst = worst.max(assert_close(&format!("{kind} hidden"), &values(g), &values(c)));
        }
        for ((name, g), (_, c)) in out_gpu.activations.into_iter().zip(out_cpu.activations) {
            worst = worst.max(assert_close(&format!("{kind} activation {name}"), &values(g), &values(c)));
        }
        println!("{kind}: forward agrees, largest relative difference {worst:.1e}");

        // Backward: every parameter's gradient, then one SGD step with them.
        let grads_cpu = GradientsParams::from_grads(loss(forward(&model_cpu, &x, &cpu), &x, &cpu).backward(), &model_cpu);
        let grads_gpu = GradientsParams::from_grads(loss(forward(&model_gpu, &x, &gpu), &x, &gpu).backward(), &model_gpu);
        let mut worst = 0.0f64;
        for (i, (g, c)) in gradients(&model_gpu, &grads_gpu).iter().zip(gradients(&model_cpu, &grads_cpu)).enumerate() {
            worst = worst.max(assert_close(&format!("{kind} gradient of parameter {i}"), g, &c));
        }
        let mut sgd = SgdConfig::new().init();
        let stepped_cpu = sgd.step(0.1, model_cpu, grads_cpu);
        let stepped_gpu = sgd.step(0.1, model_gpu, grads_gpu);
        for (i, (g, c)) in parameters(&stepped_gpu).iter().zip(parameters(&stepped_cpu)).enumerate() {
            worst = worst.max(assert_close(&format!("{kind} parameter {i} after a step"), g, &c));
        }
        println!("{kind}: gradients and step agree, largest relative difference {worst:.1e}");
    }
}

/// The metrics a PPO update reports that depend on the tensor computation, by name.
fn learned(m: &UpdateMetrics) -> [(&'static str, f64); 5] {
    [("policy_loss", m.policy_loss), ("value_loss", m.value_loss), ("entropy", m.entropy), ("approx_kl", m.approx_kl), ("clip_fraction", m.clip_fraction)]
}

#[test]
fn one_ppo_update_of_every_model_kind_on_wgpu_matches_the_cpu() {
    for kind in KINDS {
        let mut on_cpu = Trainer::new(config(kind, "cpu")).unwrap();
        let mut on_gpu = Trainer::new(config(kind, "wgpu")).unwrap();
        let (m_cpu, m_gpu) = (on_cpu.step_update().unwrap(), on_gpu.step_update().unwrap());
        // The rollout samples actions from the logits with the same random stream on both, so
        // the same episodes are played unless a logit differs by float rounding right at a
        // sampling threshold (chance ~1e-6 per action): the env's side must match exactly.
        assert_eq!((m_gpu.step, m_gpu.episodes), (m_cpu.step, m_cpu.episodes), "{kind}: the rollouts differ");
        assert_eq!(m_gpu.episode_return.to_bits(), m_cpu.episode_return.to_bits(), "{kind}: the rollouts' returns differ");
        for ((name, g), (_, c)) in learned(&m_gpu).into_iter().zip(learned(&m_cpu)) {
            // Losses are means over minibatches after Adam steps; 1e-3 of the value (or 1e-6
            // absolute, for the KL and clip fraction of a first update, which are near 0).
            assert!((g - c).abs() <= 1e-3 * c.abs() + 1e-6, "{kind}: {name} is {g} on wgpu, {c} on the cpu");
        }
        let mut worst = 0.0f64;
        for (i, (g, c)) in parameters(&on_gpu.model).iter().zip(parameters(&on_cpu.model)).enumerate() {
            worst = worst.max(assert_close(&format!("{kind} parameter {i} after a PPO update"), g, &c));
        }
        println!("{kind}: one PPO update agrees (policy loss {:.6} vs {:.6}), parameters within {worst:.1e} relative", m_gpu.policy_loss, m_cpu.policy_loss);
    }
}
