//! Learned models: actor-critics over the batched grid observations of `mesascope-tasks`.
//!
//! Three families share one interface: `mlp` (a flat perceptron), `cnn` (three 3×3
//! convolutions, the last with stride 2) and `convgru` (a recurrent convolutional GRU whose number of internal
//! ticks per environment step is a parameter, so it can be given extra "thinking" ticks at
//! evaluation time). Every forward pass can also return its intermediate activations by name,
//! flattened to `[batch, features]`, for the audit layer's probes.
//!
//! Initialisation follows CleanRL's `layer_init`: orthogonal weights with gain √2 for layers
//! followed by a ReLU, 1 for the GRU's gates and candidate (sigmoid/tanh) and the value head,
//! 0.01 for the policy head (so the first policy is almost uniform), and zero biases. burn's
//! default (Kaiming-uniform weights *and* biases) let the CNN's ReLUs die: on seed 1 of the
//! default config 13 of 16 conv2 channels were dead after the first update and all 16 after 15
//! (held-out success 23% at 153,600 steps, 21% at the end); with this initialisation 1–3 of 16
//! (70–86%, 99.5% at the end). Measured with [`ActorCritic::dead_units`] on 2,048 observations
//! (`examples/track_dead_units.rs`); global gradient clipping alone did not change it.
//!
//! Convolutions run on channels-last rows `[batch·positions, channels]`. On the CPU (burn's flex
//! backend) each convolution and the activation after it are one fused operation with its own
//! backward pass ([`crate::conv3x3`]): tiles of a few grids are gathered and multiplied while they
//! sit in cache. A GRU tick is two such convolutions (its gates through a sigmoid, its candidate
//! through a tanh, each adding the step's input part as an elementwise bias) and two fused
//! elementwise operations ([`crate::gru`]). On other devices each is a burn gather of the 3×3 neighbourhoods (padding reads a zero
//! row) and one matrix product, so autodiff derives the backward pass. Profiled on the default
//! cnn update, burn's `Conv2d` (flex) spent most of its time in a direct-convolution loop and a
//! transposed-convolution backward; the gathered form did its arithmetic in GEMM but streamed
//! every neighbourhood matrix through memory, with a serial scatter for its backward; the fused
//! form does neither (`mesascope bench train`). All three are tested to agree, values and
//! gradients. The first convolution reads the observations, which are one-hot and need no
//! gradient: on the CPU it is a lookup over each cell's few nonzero channels instead
//! ([`crate::sparse3x3`]), which made the default cnn update about a tenth faster.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, tanh};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::conv3x3::{self, Activation, Geometry};
use crate::gru;
use crate::sparse3x3;
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

    /// Floating-point operations of one forward pass on one observation of `shape`, counted
    /// from the architecture: every weight of a dense layer, and every weight of a convolution
    /// at every output position (including padded borders, as a dense implementation computes
    /// them), is one multiply and one add, i.e. 2 FLOPs. Biases, activations, the GRU's gating
    /// arithmetic and the loss are elementwise and left out (under 2% here). A convgru's
    /// per-tick part of the cell is counted `ticks` times. The backward pass is conventionally counted as
    /// twice the forward (gradients with respect to inputs and to weights), so a training
    /// sample costs 3× this.
    pub fn forward_flops(&self, shape: ObsShape) -> f64 {
        let (c, h, w) = shape;
        let (hw, ch, hidden) = ((h * w) as f64, self.channels as f64, self.hidden as f64);
        let conv3x3 = |i: f64, o: f64, positions: f64| 2.0 * i * 9.0 * o * positions;
        let heads = 2.0 * hidden * (mesascope_tasks::Action::COUNT as f64 + 1.0);
        let torso = match self.kind {
            ModelKind::Mlp => 2.0 * (c as f64 * hw * hidden + hidden * hidden),
            ModelKind::Cnn => {
                let (h2, w2) = cnn_rooms(h, w);
                let rooms = (h2 * w2) as f64;
                conv3x3(c as f64, ch, hw) + conv3x3(ch, ch, hw) + conv3x3(ch, 2.0 * ch, rooms) + 2.0 * 2.0 * ch * rooms * hidden
            }
            ModelKind::Convgru => {
                // Per step: the encoder, the gates' and the candidate's `x` parts, the readout;
                // per tick: the gates' and the candidate's `h` parts (see `CellStep`).
                let step = conv3x3(c as f64, ch, hw) + conv3x3(ch, 2.0 * ch, hw) + conv3x3(ch, ch, hw) + conv3x3(ch, ch, hw);
                let tick = conv3x3(ch, 2.0 * ch, hw) + conv3x3(ch, ch, hw);
                step + self.ticks as f64 * tick + 2.0 * ch * hw * hidden
            }
        };
        torso + heads
    }
}

/// The grid a cnn's third convolution (3×3, stride 2, no padding) leaves of an `h × w` one.
fn cnn_rooms(h: usize, w: usize) -> (usize, usize) {
    ((h.max(3) - 3) / 2 + 1, (w.max(3) - 3) / 2 + 1)
}

/// Shape `(C, H, W)` of one observation.
pub type ObsShape = (usize, usize, usize);

/// Gain of a layer followed by a ReLU (He et al.: a ReLU halves the second moment).
const RELU_GAIN: f64 = std::f64::consts::SQRT_2;

/// A `rows × cols` matrix, row-major, times `gain`, whose rows are orthonormal when
/// `rows ≤ cols` and whose columns are orthonormal otherwise, drawn uniformly (Haar) as
/// `torch.nn.init.orthogonal_` does: the Q factor of a standard normal matrix, with R's
/// diagonal made positive. Q comes from Gram–Schmidt in f64, orthogonalising twice so the
/// result is orthonormal to rounding even for the 512 × 128 dense layer.
pub fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut impl Rng) -> Vec<f32> {
    let (n, k) = (rows.max(cols), rows.min(cols));
    // k vectors of length n, drawn by Box–Muller (1 − u keeps the logarithm finite).
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|_| {
            (0..n)
                .map(|_| {
                    let (u1, u2) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
                    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                })
                .collect()
        })
        .collect();
    for j in 0..k {
        let (done, rest) = q.split_at_mut(j);
        let v = &mut rest[0];
        for _ in 0..2 {
            for u in done.iter() {
                let dot: f64 = u.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, a)| *x -= dot * a);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
    }
    let mut out = vec![0.0f32; rows * cols];
    for (j, v) in q.iter().enumerate() {
        for (i, x) in v.iter().enumerate() {
            // q[j] is column j of an n × k matrix; transposed when the matrix is wide.
            let at = if rows >= cols { i * cols + j } else { j * cols + i };
            out[at] = (gain * x) as f32;
        }
    }
    out
}

fn zero_bias(n: usize, device: &Device) -> Option<Param<Tensor<1>>> {
    Some(Param::from_data(TensorData::new(vec![0.0f32; n], [n]), device))
}

/// A `k×k` convolution from `i` to `o` channels with orthogonal weights (each of the `o`
/// filters, flattened to `i·k·k`, is one row) and zero biases.
fn conv(i: usize, o: usize, k: usize, stride: usize, pad: usize, gain: f64, rng: &mut impl Rng, device: &Device) -> Conv2d {
    let mut c = Conv2dConfig::new([i, o], [k, k]).with_stride([stride, stride]).with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad)).init(device);
    // Replacing the parameters before their first use means burn's lazy default initialiser
    // never runs, so burn's per-device random stream is never drawn from.
    c.weight = Param::from_data(TensorData::new(orthogonal(o, i * k * k, gain, rng), [o, i, k, k]), device);
    c.bias = zero_bias(o, device);
    c
}

/// A same-padded 3×3 convolution (see [`conv`]).
fn conv3(i: usize, o: usize, gain: f64, rng: &mut impl Rng, device: &Device) -> Conv2d {
    conv(i, o, 3, 1, 1, gain, rng, device)
}

/// A dense layer with orthogonal weights and zero biases. burn stores the weight as
/// `[in, out]` (`y = x·W`), the transpose of torch's `[out, in]`; the Haar distribution is the
/// same either way.
fn linear(i: usize, o: usize, gain: f64, rng: &mut impl Rng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(i, o).init(device);
    l.weight = Param::from_data(TensorData::new(orthogonal(i, o, gain, rng), [i, o]), device);
    l.bias = zero_bias(o, device);
    l
}

/// The convolutional GRU cell: gates from `[x, h]`, candidate from `x` and `r ⊙ h`.
#[derive(Module, Debug)]
pub struct ConvGruCell {
    gates: Conv2d,
    candidate_x: Conv2d,
    candidate_h: Conv2d,
}

impl ConvGruCell {
    fn new(channels: usize, rng: &mut impl Rng, device: &Device) -> ConvGruCell {
        // Gain 1: these feed a sigmoid or a tanh, not a ReLU.
        ConvGruCell {
            gates: conv3(2 * channels, 2 * channels, 1.0, rng, device),
            candidate_x: conv3(channels, channels, 1.0, rng, device),
            candidate_h: conv3(channels, channels, 1.0, rng, device),
        }
    }
}

/// The cell's convolutions prepared for one forward pass. The gate convolution reads `[x, h]`;
/// being linear, it splits into a part on `x` and a part on `h`, and since `x` does not change
/// between ticks its part (with the bias) is computed once per step, with the candidate's `x`
/// term: each tick then convolves only `h` (16 → 32 channels instead of 32 → 32 by default),
/// adding the step's part as an elementwise bias inside the convolution.
struct CellStep {
    /// Gate pre-activations from `x` and the bias, `[rows, 2·channels]`.
    gates_x: Tensor<2>,
    /// The candidate's `x` term and both candidate biases, `[rows, channels]`.
    candidate_x: Tensor<2>,
    /// The gates' `h` part, without bias.
    gates_h: ConvMatrix,
    /// The candidate's `h` part, without bias (its bias is in `candidate_x`).
    candidate_h: ConvMatrix,
}

impl CellStep {
    fn new(cell: &ConvGruCell, x: &Tensor<2>, same: &Taps) -> CellStep {
        let channels = x.dims()[1];
        let gates = cell.gates.weight.val();
        let half = |from: usize| gates.clone().narrow(1, from, channels);
        let gates_x = ConvMatrix::from_weight(half(0), cell.gates.bias.as_ref().map(|b| b.val()));
        let candidate_x = ConvMatrix::new(&cell.candidate_x).apply(x.clone(), same);
        CellStep {
            gates_x: gates_x.apply(x.clone(), same),
            candidate_x: match &cell.candidate_h.bias {
                Some(b) => candidate_x + b.val().unsqueeze_dim(0),
                None => candidate_x,
            },
            gates_h: ConvMatrix::from_weight(half(channels), None),
            candidate_h: ConvMatrix::from_weight(cell.candidate_h.weight.val(), None),
        }
    }

    /// One tick on channels-last rows: gates `[z | r] = σ(gates_x + W_h ⊛ h)`, candidate
    /// `n = tanh(candidate_x + U_h ⊛ (r ⊙ h))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
    fn tick(&self, h: Tensor<2>, same: &Taps) -> Tensor<2> {
        let zr = self.gates_h.apply_onto(h.clone(), same, self.gates_x.clone(), Activation::Sigmoid);
        let n = self.candidate_h.apply_onto(gru::reset(zr.clone(), h.clone()), same, self.candidate_x.clone(), Activation::Tanh);
        gru::mix(zr, n, h)
    }
}

/// Where a 3×3 convolution over a batch of `h × w` grids reads, built once per forward pass and
/// geometry and shared by the layers (and ticks) that use it. On the flex CPU backend the fused
/// kernel of [`crate::conv3x3`] reads the geometry itself; on other devices the convolution is a
/// burn gather with `index`: the row indices of every output position's 9 taps (row-major over
/// the kernel) in the inputs stored as `[batch·inputs + 1, C]` channels-last rows, the last row
/// being the zero padding.
struct Taps {
    geometry: Geometry,
    index: Option<Tensor<1, Int>>,
}

impl Taps {
    fn new(batch: usize, (h, w): (usize, usize), stride: usize, pad: usize, device: &Device) -> Taps {
        let geometry = Geometry { batch, h, w, stride, pad };
        if conv3x3::runs_fused(device) {
            Taps { geometry, index: None }
        } else {
            Taps::gathered(geometry, device)
        }
    }

    /// The generic form, on any device.
    fn gathered(geometry: Geometry, device: &Device) -> Taps {
        let taps = geometry.taps();
        let inputs = geometry.inputs();
        let padding = (geometry.batch * inputs) as i64;
        let mut index = Vec::with_capacity(geometry.batch * taps.len());
        for b in 0..geometry.batch {
            let base = (b * inputs) as i64;
            index.extend(taps.iter().map(|t| t.map_or(padding, |q| base + q as i64)));
        }
        let n = index.len();
        Taps { geometry, index: Some(Tensor::from_data(TensorData::new(index, [n]), device)) }
    }
}

/// A 3×3 convolution as one matrix product over gathered neighbourhoods (im2col) on
/// channels-last rows `[batch·positions, channels]` (see the module docs for why). The weights
/// stay burn `Conv2d` parameters `[out, in, 3, 3]`, so checkpoints and initialisation are
/// unchanged; only their arrangement for the product is made here, inside autodiff.
struct ConvMatrix {
    /// `[9·in, out]`, row `(ky·3 + kx)·in + c`.
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
}

impl ConvMatrix {
    fn new(conv: &Conv2d) -> ConvMatrix {
        ConvMatrix::from_weight(conv.weight.val(), conv.bias.as_ref().map(|b| b.val()))
    }

    /// From a weight `[out, in, 3, 3]` and a bias `[out]`.
    fn from_weight(weight: Tensor<4>, bias: Option<Tensor<1>>) -> ConvMatrix {
        let [o, i, kh, kw] = weight.dims();
        ConvMatrix { weight: weight.permute([2, 3, 1, 0]).reshape([kh * kw * i, o]), bias }
    }

    /// `x` `[batch·inputs, in]` → `[batch·outputs, out]`.
    fn apply(&self, x: Tensor<2>, taps: &Taps) -> Tensor<2> {
        self.run(x, taps, None, Activation::Identity)
    }

    /// `relu(self.apply(x, taps))`, fused on the CPU.
    fn apply_relu(&self, x: Tensor<2>, taps: &Taps) -> Tensor<2> {
        self.run(x, taps, None, Activation::Relu)
    }

    /// `activation(self.apply(x, taps) + addend)`, fused on the CPU, with `addend`
    /// `[batch·outputs, out]`.
    fn apply_onto(&self, x: Tensor<2>, taps: &Taps, addend: Tensor<2>, activation: Activation) -> Tensor<2> {
        self.run(x, taps, Some(addend), activation)
    }

    /// `relu(self.apply(to_rows(obs), taps))` for observations `obs` `[B, C, H, W]`. On the CPU,
    /// unless autodiff tracks them (nothing here asks for an observation's gradient), this is
    /// the sparse kernel of [`crate::sparse3x3`], which reads them where they are nonzero:
    /// being one-hot, a cell has at most a couple of its channels set, and the dense kernel spent
    /// nearly all its multiplications of the first layer on zeros.
    fn apply_relu_to_observations(&self, obs: Tensor<4>, taps: &Taps) -> Tensor<2> {
        let same = (taps.geometry.stride, taps.geometry.pad) == (1, 1);
        if taps.index.is_some() || obs.is_tracked() || !same {
            return self.apply_relu(to_rows(obs), taps);
        }
        let out = self.weight.dims()[1];
        let bias = self.bias.clone().unwrap_or_else(|| Tensor::zeros([out], &obs.device()));
        sparse3x3::sparse_conv3x3(obs, self.weight.clone(), bias, Activation::Relu)
    }

    fn run(&self, x: Tensor<2>, taps: &Taps, addend: Option<Tensor<2>>, activation: Activation) -> Tensor<2> {
        let [rows, channels] = x.dims();
        let g = taps.geometry;
        debug_assert_eq!(rows, g.batch * g.inputs());
        let Some(index) = &taps.index else {
            let out = self.weight.dims()[1];
            let bias = self.bias.clone().unwrap_or_else(|| Tensor::zeros([out], &x.device()));
            return match addend {
                // The kernel takes one bias: fold the per-channel one into the addend.
                Some(addend) if self.bias.is_some() => conv3x3::conv3x3(x, self.weight.clone(), addend + bias.unsqueeze_dim(0), g, activation),
                Some(addend) => conv3x3::conv3x3(x, self.weight.clone(), addend, g, activation),
                None => conv3x3::conv3x3(x, self.weight.clone(), bias, g, activation),
            };
        };
        let padded = Tensor::cat(vec![x, Tensor::zeros([1, channels], &index.device())], 0);
        let cols = padded.select(0, index.clone()).reshape([g.batch * g.outputs(), 9 * channels]);
        let y = cols.matmul(self.weight.clone());
        let y = match &self.bias {
            Some(b) => y + b.clone().unsqueeze_dim(0),
            None => y,
        };
        let y = match addend {
            Some(a) => y + a,
            None => y,
        };
        match activation {
            Activation::Identity => y,
            Activation::Relu => relu(y),
            Activation::Sigmoid => sigmoid(y),
            Activation::Tanh => tanh(y),
        }
    }
}

/// `[B, C, H, W]` → channels-last rows `[B·H·W, C]`.
fn to_rows(x: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = x.dims();
    x.permute([0, 2, 3, 1]).reshape([b * h * w, c])
}

/// Channels-last rows of `batch` grids of `h × w` → `[B, C, H, W]`.
fn from_rows(x: Tensor<2>, batch: usize, h: usize, w: usize) -> Tensor<4> {
    let [_, c] = x.dims();
    x.reshape([batch, h, w, c]).permute([0, 3, 1, 2])
}

/// Channels-last rows of `batch` grids → `[B, C·positions]` flattened channel-major, as
/// burn's `[B, C, H, W]` activations flatten (what probes and [`ActorCritic::dead_units`] read).
fn rows_flat_channel_major(x: &Tensor<2>, batch: usize) -> Tensor<2> {
    let [rows, c] = x.dims();
    x.clone().reshape([batch, rows / batch, c]).swap_dims(1, 2).flatten(1, 2)
}

/// A dense layer on channels-last features `[B, positions·C]`, whose weight rows are stored
/// channel-major (`c·positions + p`, burn's flattening of `[B, C, H, W]`): the rows are
/// rearranged to match instead of the features.
fn dense_on_rows(dense: &Linear, x: Tensor<2>, channels: usize) -> Tensor<2> {
    let [features, hidden] = dense.weight.dims();
    let positions = features / channels;
    let w = dense.weight.val().reshape([channels, positions, hidden]).swap_dims(0, 1).reshape([features, hidden]);
    let y = x.matmul(w);
    match &dense.bias {
        Some(b) => y + b.val().unsqueeze_dim(0),
        None => y,
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
    /// A freshly initialised model for observations of `shape`, its weights drawn from `rng`
    /// (see the module docs for the scheme).
    pub fn new(cfg: &ModelConfig, shape: ObsShape, device: &Device, rng: &mut impl Rng) -> ActorCritic {
        let (c, h, w) = shape;
        let hw = h * w;
        let (mlp, convs, cell, dense) = match cfg.kind {
            ModelKind::Mlp => {
                let first = linear(c * hw, cfg.hidden, RELU_GAIN, rng, device);
                (Some(first), Vec::new(), None, linear(cfg.hidden, cfg.hidden, RELU_GAIN, rng, device))
            }
            ModelKind::Cnn => {
                // The third convolution has stride 2 and no padding: it halves the grid (a 9×9
                // maze becomes its 4×4 grid of rooms) and doubles the channels, which cuts the
                // dense layer's cost 2.5× at no loss of reach (the receptive field is 7×7).
                let (h2, w2) = cnn_rooms(h, w);
                let convs = vec![
                    conv3(c, cfg.channels, RELU_GAIN, rng, device),
                    conv3(cfg.channels, cfg.channels, RELU_GAIN, rng, device),
                    conv(cfg.channels, 2 * cfg.channels, 3, 2, 0, RELU_GAIN, rng, device),
                ];
                (None, convs, None, linear(2 * cfg.channels * h2 * w2, cfg.hidden, RELU_GAIN, rng, device))
            }
            ModelKind::Convgru => {
                let encoder = conv3(c, cfg.channels, RELU_GAIN, rng, device);
                let cell = ConvGruCell::new(cfg.channels, rng, device);
                let readout = conv3(cfg.channels, cfg.channels, RELU_GAIN, rng, device);
                (None, vec![encoder, readout], Some(cell), linear(cfg.channels * hw, cfg.hidden, RELU_GAIN, rng, device))
            }
        };
        ActorCritic {
            mlp,
            convs,
            cell,
            dense,
            policy: linear(cfg.hidden, mesascope_tasks::Action::COUNT, 0.01, rng, device),
            value: linear(cfg.hidden, 1, 1.0, rng, device),
        }
    }

    /// Forward pass on observations `[B, C, H, W]`. Recurrent models continue from `hidden`
    /// (zeros when `None`) for `ticks` ticks; feed-forward models ignore both. With `record`,
    /// the named activations are returned too.
    pub fn forward(&self, obs: Tensor<4>, hidden: Option<Tensor<4>>, ticks: usize, record: bool) -> ForwardOutput {
        let mut activations = Vec::new();
        let [batch, _, h, w] = obs.dims();
        let mut keep = |name: &str, t: &Tensor<2>| {
            if record {
                activations.push((name.to_string(), rows_flat_channel_major(t, batch)));
            }
        };
        let mut new_hidden = None;
        let device = obs.device();
        let same = Taps::new(batch, (h, w), 1, 1, &device);
        let z = if let Some(mlp) = &self.mlp {
            let x = relu(mlp.forward(obs.flatten(1, 3)));
            if record {
                activations.push(("mlp.0".to_string(), x.clone()));
            }
            relu(self.dense.forward(x))
        } else if let Some(cell) = &self.cell {
            let (x, hh) = self.recur_rows(cell, obs, hidden, ticks, &same);
            keep("encoder", &x);
            keep("gru.hidden", &hh);
            let (out, z) = self.read_out_rows(hh.clone(), batch, &same);
            keep("gru.readout", &out);
            new_hidden = Some(from_rows(hh, batch, h, w));
            z
        } else {
            let rooms = Taps::new(batch, (h, w), 2, 0, &device);
            let mut x = ConvMatrix::new(&self.convs[0]).apply_relu_to_observations(obs, &same);
            keep("conv1", &x);
            for (i, conv) in self.convs.iter().enumerate().skip(1) {
                x = ConvMatrix::new(conv).apply_relu(x, if i < 2 { &same } else { &rooms });
                keep(&format!("conv{}", i + 1), &x);
            }
            let channels = x.dims()[1];
            relu(dense_on_rows(&self.dense, x.reshape([batch as i64, -1]), channels))
        };
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

impl ActorCritic {
    /// A recurrent model's state after `ticks` ticks on `obs` `[B, C, H, W]` from `hidden` (zeros
    /// when `None`): what [`ActorCritic::forward`] returns as `hidden`, without the readout and
    /// heads. Training runs this step by step through a sequence and then
    /// [`ActorCritic::read_out`] once on every step's state, which gives the same logits and
    /// values as a forward pass per step with fewer, larger operations. `None` for feed-forward
    /// models.
    pub fn recur(&self, obs: Tensor<4>, hidden: Option<Tensor<4>>, ticks: usize) -> Option<Tensor<4>> {
        let cell = self.cell.as_ref()?;
        let [batch, _, h, w] = obs.dims();
        let same = Taps::new(batch, (h, w), 1, 1, &obs.device());
        let (_, hh) = self.recur_rows(cell, obs, hidden, ticks, &same);
        Some(from_rows(hh, batch, h, w))
    }

    /// Action logits `[B, 5]` and values `[B]` from recurrent states `[B, channels, H, W]` (see
    /// [`ActorCritic::recur`]). `None` for feed-forward models.
    pub fn read_out(&self, hidden: Tensor<4>) -> Option<(Tensor<2>, Tensor<1>)> {
        self.cell.as_ref()?;
        let [batch, _, h, w] = hidden.dims();
        let same = Taps::new(batch, (h, w), 1, 1, &hidden.device());
        let (_, z) = self.read_out_rows(to_rows(hidden), batch, &same);
        Some((self.policy.forward(z.clone()), self.value.forward(z).squeeze_dim(1)))
    }

    /// The encoder's rows and the cell's state rows after `ticks` ticks.
    fn recur_rows(&self, cell: &ConvGruCell, obs: Tensor<4>, hidden: Option<Tensor<4>>, ticks: usize, same: &Taps) -> (Tensor<2>, Tensor<2>) {
        let x = ConvMatrix::new(&self.convs[0]).apply_relu_to_observations(obs, same);
        let mut hh = hidden.map(to_rows).unwrap_or_else(|| x.zeros_like());
        let step = CellStep::new(cell, &x, same);
        for _ in 0..ticks {
            hh = step.tick(hh, same);
        }
        (x, hh)
    }

    /// The readout convolution's rows and the dense layer's output from state rows.
    fn read_out_rows(&self, hh: Tensor<2>, batch: usize, same: &Taps) -> (Tensor<2>, Tensor<2>) {
        let out = ConvMatrix::new(&self.convs[1]).apply_relu(hh, same);
        let channels = out.dims()[1];
        let z = relu(dense_on_rows(&self.dense, out.clone().reshape([batch as i64, -1]), channels));
        (out, z)
    }
}

/// How many units of one ReLU layer never fired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadUnits {
    /// The activation's name, as in [`ForwardOutput::activations`].
    pub layer: String,
    /// Units whose output was 0 on every observation.
    pub dead: usize,
    /// Units in the layer: channels of a convolution (a channel counts as alive if it fires
    /// at any position), neurons of a dense layer.
    pub units: usize,
}

impl ActorCritic {
    /// Counts the dead ReLU units of every ReLU layer on `obs` `[B, C, H, W]` (recurrent models
    /// start from a zero state): a unit is dead if it outputs 0 on all `B` observations, so no
    /// gradient reaches its weights through them and it cannot recover on such inputs.
    pub fn dead_units(&self, obs: Tensor<4>, ticks: usize) -> Vec<DeadUnits> {
        let batch = obs.dims()[0];
        let out = self.forward(obs, None, ticks, true);
        let channels = |name: &str| match name {
            "conv1" | "encoder" => Some(self.convs[0].weight.dims()[0]),
            "conv2" | "gru.readout" => Some(self.convs[1].weight.dims()[0]),
            "conv3" => Some(self.convs[2].weight.dims()[0]),
            _ => None,
        };
        out.activations
            .into_iter()
            // The GRU's hidden state is a tanh mix, not a ReLU: it has no dead units to count.
            .filter(|(name, _)| name != "gru.hidden")
            .map(|(layer, a)| {
                let features = a.dims()[1];
                let units = channels(&layer).unwrap_or(features);
                let peak = a.reshape([batch, units, features / units]).max_dim(2).max_dim(0).flatten::<1>(0, 2);
                let dead = peak.into_data().iter::<f32>().filter(|&v| v <= 0.0).count();
                DeadUnits { layer, dead, units }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn every_kind_maps_observations_to_logits_values_and_named_activations() {
        let device = Device::flex();
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Convgru] {
            let cfg = ModelConfig { kind, hidden: 16, channels: 4, ticks: 2 };
            let model = ActorCritic::new(&cfg, (8, 7, 7), &device, &mut Pcg64Mcg::seed_from_u64(0));
            // Random inputs: with zero biases (the initialisation) an all-zero observation maps
            // to all-zero activations and a recurrent state that never moves.
            let obs = Tensor::<4>::random([3, 8, 7, 7], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
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

    /// Every weight matrix is orthogonal with its layer's gain (W·Wᵀ = gain²·I over the smaller
    /// dimension) and every bias is zero, as CleanRL's `layer_init` makes them.
    #[test]
    fn weights_are_orthogonal_with_the_layer_gains_and_biases_zero() {
        let device = Device::flex();
        let cfg = ModelConfig { kind: ModelKind::Cnn, hidden: 128, channels: 16, ticks: 1 };
        let model = ActorCritic::new(&cfg, (8, 9, 9), &device, &mut Pcg64Mcg::seed_from_u64(7));
        let relu = std::f64::consts::SQRT_2;
        let mut layers: Vec<(&str, Tensor<2>, Tensor<1>, f64)> = model
            .convs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let [o, ..] = c.weight.dims();
                (["conv1", "conv2", "conv3"][i], c.weight.val().reshape([o as i64, -1]), c.bias.as_ref().unwrap().val(), relu)
            })
            .collect();
        for (name, l, gain) in [("dense", &model.dense, relu), ("policy", &model.policy, 0.01), ("value", &model.value, 1.0)] {
            layers.push((name, l.weight.val(), l.bias.as_ref().unwrap().val(), gain));
        }
        for (name, w, b, gain) in layers {
            let [r, c] = w.dims();
            // Gram matrix over the smaller dimension.
            let gram = if r <= c { w.clone().matmul(w.clone().transpose()) } else { w.clone().transpose().matmul(w.clone()) };
            let n = r.min(c);
            let expected = Tensor::<2>::eye(n, &device) * (gain * gain);
            let err: f32 = (gram - expected).abs().max().into_scalar();
            assert!(err < 1e-5 * (gain * gain) as f32 + 1e-6, "{name}: W·Wᵀ deviates from {gain}²·I by {err}");
            let bias: f32 = b.abs().max().into_scalar();
            assert_eq!(bias, 0.0, "{name}: bias not zero");
        }
        // And the weights are random, not a fixed orthogonal matrix: another seed differs.
        let other = ActorCritic::new(&cfg, (8, 9, 9), &device, &mut Pcg64Mcg::seed_from_u64(8));
        let diff: f32 = (other.dense.weight.val() - model.dense.weight.val()).abs().sum().into_scalar();
        assert!(diff > 1.0);
    }

    /// Both forms of the convolution on channels-last rows, the fused CPU kernel and the generic
    /// gather (what GPUs run), give burn's `Conv2d` answer followed by each activation (none,
    /// ReLU, sigmoid, tanh), with the per-channel bias alone or with an elementwise addend (how a
    /// GRU tick adds its step's part), and the same gradients for the input, the weights, the
    /// bias and the addend, for each geometry the models use, odd ones, and a batch of 1.
    #[test]
    fn row_convolutions_match_burn_conv2d_values_and_gradients() {
        let device = Device::flex().autodiff();
        assert!(conv3x3::runs_fused(&device), "the CPU device runs the fused kernel");
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        // (in, out, stride, pad, h, w, batch): the cnn's same-padded and strided layers on 9×9, a
        // non-square grid, a convgru gate layer, a 1×1 grid, and batches large enough to span
        // several tiles of the fused kernel.
        let shapes = [
            (8, 16, 1, 1, 9, 9, 3),
            (16, 32, 2, 0, 9, 9, 3),
            (3, 5, 1, 1, 5, 7, 1),
            (4, 6, 2, 0, 7, 5, 2),
            (8, 8, 1, 1, 3, 3, 1),
            (2, 3, 1, 1, 1, 1, 2),
            (16, 16, 1, 1, 9, 9, 37),
            (16, 32, 2, 0, 9, 9, 41),
        ];
        for (i, o, stride, pad, h, w, batch) in shapes {
            let mut c = conv(i, o, 3, stride, pad, 1.0, &mut rng, &device);
            c.bias = Some(Param::from_tensor(Tensor::<1>::random([o], dist, &device)));
            let x = Tensor::<4>::random([batch, i, h, w], dist, &device).require_grad();
            let geometry = Geometry { batch, h, w, stride, pad };
            let [ho, wo] = [geometry.out().0, geometry.out().1];
            let addend = Tensor::<2>::random([batch * ho * wo, o], dist, &device).require_grad();
            for (form, taps) in [("fused", Taps::new(batch, (h, w), stride, pad, &device)), ("gathered", Taps::gathered(geometry, &device))] {
                for activation in [Activation::Identity, Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
                    for with_addend in [false, true] {
                        let reference = c.forward(x.clone());
                        let reference = if with_addend { reference + from_rows(addend.clone(), batch, ho, wo) } else { reference };
                        let reference = match activation {
                            Activation::Identity => reference,
                            Activation::Relu => relu(reference),
                            Activation::Sigmoid => sigmoid(reference),
                            Activation::Tanh => tanh(reference),
                        };
                        assert_eq!(reference.dims()[2..], [ho, wo]);
                        let rows = to_rows(x.clone());
                        let ours = match (activation, with_addend) {
                            (Activation::Identity, false) => ConvMatrix::new(&c).apply(rows, &taps),
                            (Activation::Relu, false) => ConvMatrix::new(&c).apply_relu(rows, &taps),
                            (_, false) => ConvMatrix::new(&c).run(rows, &taps, None, activation),
                            (_, true) => ConvMatrix::new(&c).apply_onto(rows, &taps, addend.clone(), activation),
                        };
                        let ours = from_rows(ours, batch, ho, wo);
                        let case = format!("{form}, {activation:?}, addend {with_addend}: {i}→{o} stride {stride} pad {pad} on {batch}×{h}×{w}");
                        let err: f32 = (ours.clone() - reference.clone()).abs().max().into_scalar();
                        assert!(err < 1e-4, "values differ by {err} ({case})");
                        // A loss that weighs every output differently, so every gradient entry is tested.
                        let weights = Tensor::<4>::random([batch, o, ho, wo], dist, &device);
                        let grads_of = |y: Tensor<4>| {
                            let g = (y * weights.clone()).sum().backward();
                            let get = |t: Tensor<4>| t.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
                            let bias = c.bias.as_ref().unwrap().val().grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
                            let addend = addend.grad(&g).map(|a| a.into_data().try_to_vec::<f32>().unwrap());
                            (get(x.clone()), get(c.weight.val()), bias, addend)
                        };
                        let (a, b) = (grads_of(ours), grads_of(reference));
                        assert_eq!(a.3.is_some(), with_addend);
                        let mut pairs = vec![("input", a.0, b.0), ("weight", a.1, b.1), ("bias", a.2, b.2)];
                        if let (Some(ours), Some(reference)) = (a.3, b.3) {
                            pairs.push(("addend", ours, reference));
                        }
                        for (name, ours, reference) in pairs {
                            let err = ours.iter().zip(&reference).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                            let scale = reference.iter().map(|q| q.abs()).fold(1.0f32, f32::max);
                            assert!(err < 1e-4 * scale, "{name} gradient differs by {err} (scale {scale}) ({case})");
                        }
                    }
                }
            }
        }
    }

    /// The whole forward pass of every convolutional kind equals the same network written with
    /// burn's `Conv2d` on `[B, C, H, W]` tensors (the gates convolving `[x, h]` every tick):
    /// logits, values, the recurrent state and every named activation.
    #[test]
    fn forward_matches_a_reference_written_with_burn_conv2d() {
        let device = Device::flex();
        let reference = |m: &ActorCritic, obs: Tensor<4>, hidden: Option<Tensor<4>>, ticks: usize| -> (Tensor<2>, Tensor<1>, Option<Tensor<4>>, Vec<Tensor<2>>) {
            let mut acts = Vec::new();
            let mut new_hidden = None;
            let features = if let Some(cell) = &m.cell {
                let x = relu(m.convs[0].forward(obs));
                acts.push(x.clone().flatten(1, 3));
                let mut h = hidden.unwrap_or_else(|| x.zeros_like());
                let x_part = cell.candidate_x.forward(x.clone());
                for _ in 0..ticks {
                    let gates = sigmoid(cell.gates.forward(Tensor::cat(vec![x.clone(), h.clone()], 1)));
                    let [z, r] = gates.chunk(2, 1).try_into().unwrap();
                    let n = tanh(x_part.clone() + cell.candidate_h.forward(r * h.clone()));
                    h = (z.clone().neg() + 1.0) * n + z * h;
                }
                acts.push(h.clone().flatten(1, 3));
                let out = relu(m.convs[1].forward(h.clone()));
                acts.push(out.clone().flatten(1, 3));
                new_hidden = Some(h);
                out.flatten(1, 3)
            } else {
                let mut x = obs;
                for c in &m.convs {
                    x = relu(c.forward(x));
                    acts.push(x.clone().flatten(1, 3));
                }
                x.flatten(1, 3)
            };
            let z = relu(m.dense.forward(features));
            acts.push(z.clone());
            (m.policy.forward(z.clone()), m.value.forward(z).squeeze_dim(1), new_hidden, acts)
        };
        let max_diff = |a: Tensor<2>, b: Tensor<2>| -> f32 { (a - b).abs().max().into_scalar() };
        for (kind, shape) in [(ModelKind::Cnn, (8, 9, 9)), (ModelKind::Cnn, (8, 7, 5)), (ModelKind::Convgru, (8, 7, 7))] {
            let cfg = ModelConfig { kind, hidden: 16, channels: 4, ticks: 3 };
            let mut model = ActorCritic::new(&cfg, shape, &device, &mut Pcg64Mcg::seed_from_u64(2));
            // Non-zero biases, so their placement is tested too.
            let mut rng = Pcg64Mcg::seed_from_u64(3);
            for c in model.convs.iter_mut().chain(model.cell.iter_mut().flat_map(|cell| [&mut cell.gates, &mut cell.candidate_x, &mut cell.candidate_h])) {
                let o = c.weight.dims()[0];
                c.bias = Some(Param::from_data(TensorData::new((0..o).map(|_| rng.random::<f32>() - 0.5).collect::<Vec<f32>>(), [o]), &device));
            }
            let (c, h, w) = shape;
            let obs = Tensor::<4>::random([3, c, h, w], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
            let hidden = (kind == ModelKind::Convgru).then(|| Tensor::<4>::random([3, 4, h, w], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device));
            let ours = model.forward(obs.clone(), hidden.clone(), cfg.ticks, true);
            let (logits, value, new_hidden, acts) = reference(&model, obs, hidden, cfg.ticks);
            assert!(max_diff(ours.logits, logits) < 1e-5, "{kind:?} logits");
            assert!(max_diff(ours.value.unsqueeze_dim(1), value.unsqueeze_dim(1)) < 1e-5, "{kind:?} values");
            if let (Some(a), Some(b)) = (ours.hidden, new_hidden) {
                assert!(max_diff(a.flatten(1, 3), b.flatten(1, 3)) < 1e-5, "recurrent state");
            }
            assert_eq!(ours.activations.len(), acts.len());
            for ((name, a), b) in ours.activations.into_iter().zip(acts) {
                assert_eq!(a.dims(), b.dims(), "{name}");
                assert!(max_diff(a, b) < 1e-5, "{kind:?} activation {name}");
            }
        }
    }

    /// Stepping only the recurrence and reading out every step's state at once (how training runs
    /// a sequence) gives the logits, values and states of a forward pass per step.
    #[test]
    fn recur_then_read_out_matches_a_forward_pass_per_step() {
        let device = Device::flex();
        let cfg = ModelConfig { kind: ModelKind::Convgru, hidden: 16, channels: 4, ticks: 2 };
        let model = ActorCritic::new(&cfg, (8, 7, 7), &device, &mut Pcg64Mcg::seed_from_u64(4));
        let obs: Vec<Tensor<4>> = (0..3).map(|_| Tensor::<4>::random([2, 8, 7, 7], burn::tensor::Distribution::Uniform(0.0, 1.0), &device)).collect();
        let (mut h, mut states, mut logits, mut values) = (None, Vec::new(), Vec::new(), Vec::new());
        let mut hidden = None;
        for o in &obs {
            let out = model.forward(o.clone(), hidden.take(), cfg.ticks, false);
            hidden = out.hidden;
            logits.push(out.logits);
            values.push(out.value);
            let state = model.recur(o.clone(), h.take(), cfg.ticks).unwrap();
            let diff: f32 = (state.clone() - hidden.clone().unwrap()).abs().max().into_scalar();
            assert!(diff < 1e-6, "state differs by {diff}");
            states.push(state.clone());
            h = Some(state);
        }
        let (l, v) = model.read_out(Tensor::cat(states, 0)).unwrap();
        let dl: f32 = (l - Tensor::cat(logits, 0)).abs().max().into_scalar();
        let dv: f32 = (v - Tensor::cat(values, 0)).abs().max().into_scalar();
        assert!(dl < 1e-5 && dv < 1e-5, "logits differ by {dl}, values by {dv}");
        // Feed-forward models have no recurrence to step.
        let cnn = ActorCritic::new(&ModelConfig { kind: ModelKind::Cnn, ..cfg }, (8, 7, 7), &device, &mut Pcg64Mcg::seed_from_u64(4));
        assert!(cnn.recur(obs[0].clone(), None, 1).is_none());
    }

    /// The FLOP counts `bench train` reports, by hand for the default sizes on 9×9 grids with
    /// 8 channels (heads: 2·128·(5 + 1) = 1,536).
    #[test]
    fn forward_flops_count_every_weight_at_every_output_position() {
        let cfg = |kind| ModelConfig { kind, hidden: 128, channels: 16, ticks: 2 };
        // conv1 2·8·9·16·81 + conv2 2·16·9·16·81 + conv3 (stride 2, 4×4 out) 2·16·9·32·16
        // + dense 2·512·128 + heads.
        assert_eq!(cfg(ModelKind::Cnn).forward_flops((8, 9, 9)), (186_624 + 373_248 + 147_456 + 131_072 + 1_536) as f64);
        // 2·(648·128 + 128·128) + heads.
        assert_eq!(cfg(ModelKind::Mlp).forward_flops((8, 9, 9)), (165_888 + 32_768 + 1_536) as f64);
        // encoder 2·8·9·16·81, gates' x part 2·16·9·32·81, candidate's x part and readout
        // 2·16·9·16·81 each; per tick gates' h part 2·16·9·32·81 + candidate's h part
        // 2·16·9·16·81; dense 2·(16·81)·128; heads.
        let tick = 746_496 + 373_248;
        assert_eq!(cfg(ModelKind::Convgru).forward_flops((8, 9, 9)), (186_624 + 746_496 + 2 * 373_248 + 2 * tick + 331_776 + 1_536) as f64);
    }

    #[test]
    fn dead_units_counts_units_that_never_fire() {
        let device = Device::flex();
        let cfg = ModelConfig { kind: ModelKind::Cnn, hidden: 8, channels: 4, ticks: 1 };
        let mut model = ActorCritic::new(&cfg, (8, 7, 7), &device, &mut Pcg64Mcg::seed_from_u64(1));
        let obs = Tensor::<4>::random([6, 8, 7, 7], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
        // A huge positive bias keeps a unit firing on every input, a huge negative one kills it:
        // conv2's channel 1 and dense unit 3 die, every other unit of those layers lives.
        // (conv2's ±1e3 make its outputs ~1e3, so dense needs ±1e9 to dominate what reaches it.)
        let bias = |n: usize, dead: usize, size: f32| {
            let b: Vec<f32> = (0..n).map(|i| if i == dead { -size } else { size }).collect();
            Some(Param::from_data(TensorData::new(b, [n]), &device))
        };
        model.convs[1].bias = bias(4, 1, 1e3);
        model.dense.bias = bias(8, 3, 1e9);
        let dead = model.dead_units(obs, 1);
        let get = |n: &str| dead.iter().find(|d| d.layer == n).cloned().unwrap();
        assert_eq!(get("conv2"), DeadUnits { layer: "conv2".into(), dead: 1, units: 4 });
        assert_eq!(get("conv3").units, 8, "a convolution's units are its channels");
        assert_eq!(get("dense"), DeadUnits { layer: "dense".into(), dead: 1, units: 8 });
    }
}
