//! Learned models: actor-critics over the batched grid observations of `mesascope-tasks`.
//!
//! Three families share one interface: `mlp` (a flat perceptron), `cnn` (three same-padded
//! 3×3 convolutions) and `convgru` (a recurrent convolutional GRU whose number of internal
//! ticks per environment step is a parameter, so it can be given extra "thinking" ticks at
//! evaluation time). Every forward pass can also return its intermediate activations by name,
//! flattened to `[batch, features]`, for the audit layer's probes.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, tanh};
use serde::{Deserialize, Serialize};

use crate::error::LearnError;

/// Which architecture a model has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Flattened observation → two dense layers.
    Mlp,
    /// Three 3×3 convolutions → one dense layer.
    Cnn,
    /// A 3×3 convolutional encoder, a convolutional GRU ticked `ticks` times per step, one
    /// dense layer.
    Convgru,
}

impl ModelKind {
    /// Names accepted in configs.
    pub const NAMES: [&'static str; 3] = ["mlp", "cnn", "convgru"];
}

/// Architecture hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Architecture: `mlp`, `cnn` or `convgru`.
    pub kind: ModelKind,
    /// Width of the dense layers.
    pub hidden: usize,
    /// Channels of the convolutional layers (`cnn`, `convgru`).
    pub channels: usize,
    /// Recurrent ticks per environment step (`convgru`); evaluation may use more.
    pub ticks: usize,
}

impl ModelConfig {
    /// Checks the values, naming the first impossible one.
    pub fn validate(&self) -> Result<(), LearnError> {
        if self.hidden == 0 {
            return Err(LearnError::config("model.hidden", "must be at least 1"));
        }
        if self.kind != ModelKind::Mlp && self.channels == 0 {
            return Err(LearnError::config("model.channels", "must be at least 1"));
        }
        if self.kind == ModelKind::Convgru && self.ticks == 0 {
            return Err(LearnError::config("model.ticks", "a convgru needs at least 1 tick per step"));
        }
        Ok(())
    }

    /// Whether the model carries a hidden state between steps.
    pub fn recurrent(&self) -> bool {
        self.kind == ModelKind::Convgru
    }
}

/// Shape `(C, H, W)` of one observation.
pub type ObsShape = (usize, usize, usize);

fn conv3(i: usize, o: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device)
}

/// The convolutional GRU cell: gates from `[x, h]`, candidate from `x` and `r ⊙ h`.
#[derive(Module, Debug)]
pub struct ConvGruCell {
    gates: Conv2d,
    candidate_x: Conv2d,
    candidate_h: Conv2d,
}

impl ConvGruCell {
    fn new(channels: usize, device: &Device) -> ConvGruCell {
        ConvGruCell {
            gates: conv3(2 * channels, 2 * channels, device),
            candidate_x: conv3(channels, channels, device),
            candidate_h: conv3(channels, channels, device),
        }
    }

    /// One tick: `h' = (1 − z) ⊙ n + z ⊙ h`.
    fn tick(&self, x: &Tensor<4>, x_part: &Tensor<4>, h: Tensor<4>) -> Tensor<4> {
        let gates = sigmoid(self.gates.forward(Tensor::cat(vec![x.clone(), h.clone()], 1)));
        let [z, r] = gates.chunk(2, 1).try_into().expect("two gate halves");
        let n = tanh(x_part.clone() + self.candidate_h.forward(r * h.clone()));
        (z.clone().neg() + 1.0) * n + z * h
    }
}

/// An actor-critic. Only the torso of its `kind` is present; the others are `None`.
#[derive(Module, Debug)]
pub struct ActorCritic {
    mlp: Option<Linear>,
    convs: Vec<Conv2d>,
    cell: Option<ConvGruCell>,
    dense: Linear,
    policy: Linear,
    value: Linear,
}

/// What one forward pass returns.
pub struct ForwardOutput {
    /// Action logits `[B, 5]`.
    pub logits: Tensor<2>,
    /// State values `[B]`.
    pub value: Tensor<1>,
    /// The recurrent state after this step (`convgru` only), `[B, channels, H, W]`.
    pub hidden: Option<Tensor<4>>,
    /// Named intermediate activations `[B, features]`, when asked for.
    pub activations: Vec<(String, Tensor<2>)>,
}

impl ActorCritic {
    /// A freshly initialised model for observations of `shape`.
    pub fn new(cfg: &ModelConfig, shape: ObsShape, device: &Device) -> ActorCritic {
        let (c, h, w) = shape;
        let hw = h * w;
        let (mlp, convs, cell, dense) = match cfg.kind {
            ModelKind::Mlp => (
                Some(LinearConfig::new(c * hw, cfg.hidden).init(device)),
                Vec::new(),
                None,
                LinearConfig::new(cfg.hidden, cfg.hidden).init(device),
            ),
            ModelKind::Cnn => {
                // The third convolution has stride 2 and no padding: it halves the grid (a 9×9
                // maze becomes its 4×4 grid of rooms) and doubles the channels, which cuts the
                // dense layer's cost 2.5× at no loss of reach (the receptive field is 7×7).
                let (h2, w2) = ((h.max(3) - 3) / 2 + 1, (w.max(3) - 3) / 2 + 1);
                (
                    None,
                    vec![
                        conv3(c, cfg.channels, device),
                        conv3(cfg.channels, cfg.channels, device),
                        Conv2dConfig::new([cfg.channels, 2 * cfg.channels], [3, 3]).with_stride([2, 2]).init(device),
                    ],
                    None,
                    LinearConfig::new(2 * cfg.channels * h2 * w2, cfg.hidden).init(device),
                )
            }
            ModelKind::Convgru => (
                None,
                vec![conv3(c, cfg.channels, device), conv3(cfg.channels, cfg.channels, device)],
                Some(ConvGruCell::new(cfg.channels, device)),
                LinearConfig::new(cfg.channels * hw, cfg.hidden).init(device),
            ),
        };
        ActorCritic {
            mlp,
            convs,
            cell,
            dense,
            policy: LinearConfig::new(cfg.hidden, mesascope_tasks::Action::COUNT).init(device),
            value: LinearConfig::new(cfg.hidden, 1).init(device),
        }
    }

    /// Forward pass on observations `[B, C, H, W]`. Recurrent models continue from `hidden`
    /// (zeros when `None`) for `ticks` ticks; feed-forward models ignore both. With `record`,
    /// the named activations are returned too.
    pub fn forward(&self, obs: Tensor<4>, hidden: Option<Tensor<4>>, ticks: usize, record: bool) -> ForwardOutput {
        let mut activations = Vec::new();
        let mut keep = |name: &str, t: &Tensor<4>| {
            if record {
                activations.push((name.to_string(), t.clone().flatten(1, 3)));
            }
        };
        let mut new_hidden = None;
        let features: Tensor<2> = if let Some(mlp) = &self.mlp {
            let x = relu(mlp.forward(obs.flatten(1, 3)));
            if record {
                activations.push(("mlp.0".to_string(), x.clone()));
            }
            x
        } else if let Some(cell) = &self.cell {
            let x = relu(self.convs[0].forward(obs));
            keep("encoder", &x);
            let mut h = hidden.unwrap_or_else(|| x.zeros_like());
            let x_part = cell.candidate_x.forward(x.clone());
            for _ in 0..ticks {
                h = cell.tick(&x, &x_part, h);
            }
            keep("gru.hidden", &h);
            let out = relu(self.convs[1].forward(h.clone()));
            keep("gru.readout", &out);
            new_hidden = Some(h);
            out.flatten(1, 3)
        } else {
            let mut x = obs;
            for (i, conv) in self.convs.iter().enumerate() {
                x = relu(conv.forward(x));
                keep(&format!("conv{}", i + 1), &x);
            }
            x.flatten(1, 3)
        };
        let z = relu(self.dense.forward(features));
        if record {
            activations.push(("dense".to_string(), z.clone()));
        }
        ForwardOutput {
            logits: self.policy.forward(z.clone()),
            value: self.value.forward(z).squeeze_dim(1),
            hidden: new_hidden,
            activations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_observations_to_logits_values_and_named_activations() {
        let device = Device::flex();
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Convgru] {
            let cfg = ModelConfig { kind, hidden: 16, channels: 4, ticks: 2 };
            let model = ActorCritic::new(&cfg, (8, 7, 7), &device);
            let obs = Tensor::<4>::zeros([3, 8, 7, 7], &device);
            let out = model.forward(obs.clone(), None, cfg.ticks, true);
            assert_eq!(out.logits.dims(), [3, 5]);
            assert_eq!(out.value.dims(), [3]);
            assert!(!out.activations.is_empty());
            assert!(out.activations.iter().all(|(_, a)| a.dims()[0] == 3));
            assert_eq!(out.hidden.is_some(), kind == ModelKind::Convgru);
            if let Some(h) = out.hidden {
                // More ticks change the recurrent state: thinking time is a real knob.
                let again = model.forward(obs, Some(h.clone()), 4, false).hidden.unwrap();
                let diff: f32 = (again - h).abs().sum().into_scalar();
                assert!(diff > 0.0);
            }
        }
    }
}
