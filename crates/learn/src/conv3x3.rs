//! A fused 3×3 convolution with its bias and activation (none, ReLU, sigmoid or tanh) on
//! channels-last rows for the CPU (flex) backend, forward and backward, as a burn backend
//! extension. The bias is one per channel, or one per output element: a GRU tick adds the part
//! of its gates computed from the step's input that way, so the sum and the gate's activation
//! happen inside the convolution instead of as separate passes.
//!
//! The models' convolutions are tiny (8–32 channels on 9×9 grids, minibatches of 256), so what
//! costs is memory traffic and per-operation overhead, not arithmetic. Written with burn's
//! primitives (a gather of every 3×3 neighbourhood, a matrix product, a bias add and a ReLU, each
//! its own pass), an update streamed the whole neighbourhood matrix (~12 MB per minibatch and
//! layer) through memory several times, and the gather's backward was a serial scatter. Here each
//! pass works on tiles of a few grids whose neighbourhoods fit in a core's cache: gather the tile,
//! multiply it with the `gemm` crate (the GEMM burn's flex backend uses), add the bias and apply
//! the ReLU while the tile is hot. The tiles are spread over the cores with rayon. The input
//! gradient is a gather too (each input position reads the output gradients of the positions
//! whose neighbourhoods contain it: a transposed convolution), so it parallelises like the
//! forward pass; a strided convolution's input gradient instead scatters each output's
//! neighbourhood gradient (see [`input_grad`]). The weight gradient sums per-tile products in
//! tile order, so the result does not depend on the number of threads. Outputs are written
//! without being zeroed first, and each thread keeps its gather buffer between calls.
//!
//! Other devices (wgpu, cuda) keep the generic gather-and-matmul form in `model.rs`; both are
//! tested against burn's `Conv2d`, values and gradients.

use std::mem::MaybeUninit;
use std::ops::Range;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, DispatchDevice, Flex};
use burn::prelude::*;
use rayon::prelude::*;

pub use crate::elementwise::Activation;
use crate::elementwise::vectorised;

/// Where a 3×3 convolution reads and writes: `batch` grids of `h × w` positions stored as
/// channels-last rows `[batch·h·w, channels]`, a kernel moved by `stride`, zero padding of `pad`
/// on every side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Grids in the batch.
    pub batch: usize,
    /// Rows of one input grid.
    pub h: usize,
    /// Columns of one input grid.
    pub w: usize,
    /// Step of the kernel.
    pub stride: usize,
    /// Zero padding on each side.
    pub pad: usize,
}

impl Geometry {
    /// Rows and columns of one output grid.
    pub fn out(&self) -> (usize, usize) {
        let side = |n: usize| (n + 2 * self.pad).saturating_sub(3) / self.stride + 1;
        (side(self.h), side(self.w))
    }

    /// Positions of one input grid.
    pub fn inputs(&self) -> usize {
        self.h * self.w
    }

    /// Positions of one output grid.
    pub fn outputs(&self) -> usize {
        let (ho, wo) = self.out();
        ho * wo
    }

    /// For every output position of one grid, the input positions its 9 taps read (row-major
    /// over the kernel), `None` on the padding: `outputs · 9` entries.
    pub fn taps(&self) -> Vec<Option<usize>> {
        let (ho, wo) = self.out();
        let mut taps = Vec::with_capacity(ho * wo * 9);
        for oy in 0..ho {
            for ox in 0..wo {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (y, x) = ((oy * self.stride + ky).checked_sub(self.pad), (ox * self.stride + kx).checked_sub(self.pad));
                        taps.push(match (y, x) {
                            (Some(y), Some(x)) if y < self.h && x < self.w => Some(y * self.w + x),
                            _ => None,
                        });
                    }
                }
            }
        }
        taps
    }

    /// The transpose of [`Geometry::taps`]: for every input position of one grid and every tap,
    /// the output position that reads it through that tap, if any: `inputs · 9` entries. At most
    /// one output position reads a given input through a given tap.
    fn reverse_taps(&self) -> Vec<Option<usize>> {
        let mut reverse = vec![None; self.inputs() * 9];
        for (at, tap) in self.taps().into_iter().enumerate() {
            if let Some(input) = tap {
                reverse[input * 9 + at % 9] = Some(at / 9);
            }
        }
        reverse
    }
}

/// The fused convolution as a backend operation, reached from a `Tensor` through burn's runtime
/// dispatch. Only the flex backend (and autodiff over it) implements it; see [`runs_fused`].
#[backend_extension(Flex, Autodiff)]
pub trait Conv3x3Backend: Backend {
    /// `activation(x ⊛ weight + bias)`: `x` `[batch·inputs, in]`, `weight` `[9·in, out]` (row
    /// `tap·in + channel`), `bias` `[out]` (one per channel) or `[batch·outputs, out]` (one per
    /// output element: how a GRU tick adds the part of its gates computed from the step's input)
    /// → `[batch·outputs, out]`.
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geometry: Geometry, activation: Activation) -> FloatTensor<Self>;
}

/// Whether [`conv3x3`] can run on `device`: the flex CPU backend, with or without autodiff.
pub fn runs_fused(device: &Device) -> bool {
    matches!(device.as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// The fused convolution on `Tensor`s (see [`Conv3x3Backend::conv3x3`]), with a bias per
/// channel (`D = 1`) or per output element (`D = 2`); only for devices where [`runs_fused`]
/// holds.
pub fn conv3x3<const D: usize>(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<D>, geometry: Geometry, activation: Activation) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as Conv3x3Backend>::conv3x3(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), geometry, activation))
}

/// A contiguous f32 view of a flex tensor, and its two dimensions.
pub(crate) fn matrix(t: &FlexTensor) -> (FlexTensor, usize, usize) {
    let shape = t.layout().shape();
    let (rows, cols) = (shape[0], shape.num_elements() / shape[0].max(1));
    (t.to_contiguous(), rows, cols)
}

pub(crate) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("the fused kernels run on contiguous f32 tensors")
}

pub(crate) fn flex_tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

/// A vector of `n` floats, split into chunks of `chunk` that `fill` writes in parallel (its
/// first argument is the chunk's index). `fill` must write every element of its chunk; the
/// memory is not zeroed first, which would be a pass over it that every kernel here overwrites
/// anyway (measured: 7% of a cnn update in `memset`).
pub(crate) fn par_filled(n: usize, chunk: usize, fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    v.spare_capacity_mut()[..n].par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, c)| fill(i, c));
    // SAFETY: `fill` has initialised all `n` elements.
    unsafe { v.set_len(n) };
    v
}

/// `chunk` as initialised floats, once every element has been written.
///
/// # Safety
/// Every element of `chunk` must be initialised.
pub(crate) unsafe fn assume_init(chunk: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: MaybeUninit<f32> has f32's layout; the caller guarantees initialisation.
    unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Writes `src` into `dst` (equal lengths).
pub(crate) fn write(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| {
        d.write(*s);
    });
}

impl Conv3x3Backend for Flex {
    fn conv3x3(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, geometry: Geometry, activation: Activation) -> FlexTensor {
        let ((x, _, channels_in), (weight, _, channels_out), (bias, ..)) = (matrix(&x), matrix(&weight), matrix(&bias));
        let y = forward(slice(&x), channels_in, slice(&weight), channels_out, slice(&bias), geometry, activation);
        flex_tensor(y, &[geometry.batch * geometry.outputs(), channels_out])
    }
}

/// The backward step: the activation's derivative, then the input, weight and bias gradients of
/// whichever inputs are tracked.
#[derive(Debug)]
struct Conv3x3Backward;

/// What [`Conv3x3Backward`] keeps from the forward pass.
#[derive(Clone, Debug)]
struct Conv3x3State {
    /// The input's checkpoint, when the weight's gradient needs it.
    x: Option<NodeId>,
    /// The weight's checkpoint, when the input's gradient needs it.
    weight: Option<NodeId>,
    /// The output, when the activation's derivative needs it.
    output: Option<FlexTensor>,
    geometry: Geometry,
    activation: Activation,
    /// Whether the bias is one value per output element rather than per channel.
    elementwise_bias: bool,
}

impl Backward<Flex, 3> for Conv3x3Backward {
    type State = Conv3x3State;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let Conv3x3State { x: x_id, weight: weight_id, output, geometry, activation, elementwise_bias } = ops.state;
        let (grad, rows, channels_out) = matrix(&grads.consume::<Flex>(&ops.node));
        let grad = match output {
            Some(output) => {
                let (output, grad) = (matrix(&output).0, slice(&grad));
                let y = slice(&output);
                let chunk = ACTIVATION_CHUNK;
                let g = par_filled(grad.len(), chunk, |i, out| {
                    let range = i * chunk..i * chunk + out.len();
                    activation.backward(&y[range.clone()], &grad[range], out);
                });
                flex_tensor(g, &[rows, channels_out])
            }
            None => grad,
        };
        let g = slice(&grad);
        // The weight gradient's tiles sum the per-channel bias gradient on the way.
        let mut db = None;
        if let (Some(node), Some(x_id)) = (node_weight, x_id) {
            let (x, _, channels_in) = matrix(&checkpointer.retrieve_node_output::<FlexTensor>(x_id));
            let (dw, bias) = weight_grad(slice(&x), channels_in, g, channels_out, geometry);
            grads.register::<Flex>(node.id, flex_tensor(dw, &[9 * channels_in, channels_out]));
            db = Some(bias);
        }
        if let Some(node) = node_bias {
            let db = if elementwise_bias { grad.clone() } else { flex_tensor(db.unwrap_or_else(|| bias_grad(g, channels_out)), &[channels_out]) };
            grads.register::<Flex>(node.id, db);
        }
        if let (Some(node), Some(weight_id)) = (node_x, weight_id) {
            let (weight, w_rows, _) = matrix(&checkpointer.retrieve_node_output::<FlexTensor>(weight_id));
            let channels_in = w_rows / 9;
            let dx = input_grad(g, channels_out, slice(&weight), channels_in, geometry);
            grads.register::<Flex>(node.id, flex_tensor(dx, &[geometry.batch * geometry.inputs(), channels_in]));
        }
    }
}

/// Elements per parallel chunk of an elementwise pass: large enough to amortise the task, small
/// enough to spread a minibatch over the cores.
pub(crate) const ACTIVATION_CHUNK: usize = 1 << 14;

impl<C: CheckpointStrategy> Conv3x3Backend for Autodiff<Flex, C> {
    fn conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geometry: Geometry, activation: Activation) -> FloatTensor<Self> {
        let (x_tracked, weight_tracked) = (x.is_tracked(), weight.is_tracked());
        let elementwise_bias = bias.primitive().layout().shape().num_dims() == 2;
        match Conv3x3Backward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                // The weight gradient reads the input, the input gradient the weight.
                let x_id = weight_tracked.then(|| prep.checkpoint(&x));
                let weight_id = x_tracked.then(|| prep.checkpoint(&weight));
                let y = Flex::conv3x3(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), geometry, activation);
                let output = (activation != Activation::Identity).then(|| y.clone());
                prep.finish(Conv3x3State { x: x_id, weight: weight_id, output, geometry, activation, elementwise_bias }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv3x3(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), geometry, activation)),
        }
    }
}

/// Floats of gathered neighbourhoods per tile: 128 KiB, well inside a core's L2 cache with the
/// tile's output beside it.
const TILE_FLOATS: usize = 1 << 15;

/// Grids per tile for neighbourhood rows of `row_floats` floats per grid.
fn grids_per_tile(row_floats: usize) -> usize {
    (TILE_FLOATS / row_floats.max(1)).max(1)
}

/// Writes into `cols` the 3×3 neighbourhoods of the `grids` of `src` (`positions` rows of
/// `channels` per grid) that `taps` names (9 per row, `None` reads zeros): one row of
/// `9·channels` per entry of `taps / 9`, grid after grid.
fn gather(src: &[f32], channels: usize, positions: usize, taps: &[Option<usize>], grids: Range<usize>, cols: &mut Vec<f32>) {
    // A copy of a length known at compile time is a few vector moves; of a run-time length, a
    // call to memcpy per tap (a quarter of a cnn update's time when measured).
    match channels {
        8 => gather_rows(src, 8, positions, taps, grids, cols),
        16 => gather_rows(src, 16, positions, taps, grids, cols),
        32 => gather_rows(src, 32, positions, taps, grids, cols),
        _ => gather_rows(src, channels, positions, taps, grids, cols),
    }
}

/// [`gather`]'s loop, inlined into each of its calls so that a constant `channels` reaches it.
#[inline(always)]
fn gather_rows(src: &[f32], channels: usize, positions: usize, taps: &[Option<usize>], grids: Range<usize>, cols: &mut Vec<f32>) {
    let per_grid = taps.len() * channels;
    cols.resize(grids.len() * per_grid, 0.0);
    for (dst, grid) in cols.chunks_exact_mut(per_grid).zip(grids) {
        let grid = &src[grid * positions * channels..][..positions * channels];
        for (d, tap) in dst.chunks_exact_mut(channels).zip(taps) {
            match tap {
                Some(q) => d.copy_from_slice(&grid[q * channels..][..channels]),
                None => d.fill(0.0),
            }
        }
    }
}

/// `dst` (`m × n`, row-major) = [`dst` +] `lhs · rhs`, where `lhs` is `m × k` read with row
/// stride `lhs_rs` and column stride `lhs_cs`, and `rhs` is `k × n` row-major; one thread.
/// Without `accumulate`, `dst` may be uninitialised: it is only written.
#[allow(clippy::too_many_arguments)]
fn matmul(m: usize, n: usize, k: usize, dst: &mut [MaybeUninit<f32>], accumulate: bool, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32]) {
    assert!(dst.len() >= m * n && rhs.len() >= k * n);
    assert!(m == 0 || k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices; it
    // reads `dst` only when accumulating, which the callers do on initialised memory.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Initialises every output row of a tile from `bias`: the same `[cout]` row for each, or the
/// tile's own rows of an elementwise `[rows, cout]` bias (`first_row` is the tile's first).
fn init_rows(y: &mut [MaybeUninit<f32>], bias: &[f32], cout: usize, first_row: usize) {
    if bias.len() == cout {
        y.chunks_exact_mut(cout).for_each(|row| write(row, bias));
    } else {
        write(y, &bias[first_row * cout..][..y.len()]);
    }
}

/// The forward pass on slices: `x` `[batch·inputs, cin]`, `weight` `[9·cin, cout]`, `bias`
/// `[cout]` or `[batch·outputs, cout]` → `[batch·outputs, cout]`.
pub fn forward(x: &[f32], cin: usize, weight: &[f32], cout: usize, bias: &[f32], g: Geometry, activation: Activation) -> Vec<f32> {
    let (taps, outputs, inputs) = (g.taps(), g.outputs(), g.inputs());
    let grids = grids_per_tile(outputs * 9 * cin);
    par_filled(g.batch * outputs * cout, grids * outputs * cout, |tile, y| {
        let first = tile * grids;
        let count = y.len() / (outputs * cout);
        init_rows(y, bias, cout, first * outputs);
        // SAFETY: every row was just initialised.
        let y = unsafe { assume_init(y) };
        COLS.with(|cols| {
            let cols = &mut cols.borrow_mut();
            gather(x, cin, inputs, &taps, first..first + count, cols);
            // SAFETY: MaybeUninit<f32> has f32's layout and `y` is initialised.
            let y_uninit = unsafe { &mut *(y as *mut [f32] as *mut [MaybeUninit<f32>]) };
            matmul(count * outputs, cout, 9 * cin, y_uninit, true, cols, 9 * cin, 1, weight);
        });
        activation.apply(y);
    })
}

thread_local! {
    /// Each thread's buffer of gathered neighbourhoods, kept between calls so that a tile's
    /// gather writes into memory that is already allocated and cached.
    static COLS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The input gradient on slices: `grad` `[batch·outputs, cout]`, `weight` `[9·cin, cout]` →
/// `[batch·inputs, cin]`. With as many outputs as inputs (same padding, stride 1), each input
/// position gathers the output gradients that read it (one per tap at most) and multiplies them
/// with the weight rearranged to `[9·cout, cin]`. With fewer outputs (a stride, no padding),
/// most of those taps would read nothing: the cnn's strided layer did 5× its useful arithmetic
/// that way, at a fifth of the speed of its other passes. There each output row's gradient is
/// multiplied with the weight into its neighbourhood's gradient, which is added onto the input
/// positions it read ([`input_grad_scattered`]).
pub fn input_grad(grad: &[f32], cout: usize, weight: &[f32], cin: usize, g: Geometry) -> Vec<f32> {
    if g.outputs() < g.inputs() {
        return input_grad_scattered(grad, cout, weight, cin, g);
    }
    let (reverse, inputs) = (g.reverse_taps(), g.inputs());
    let mut by_tap = vec![0.0f32; 9 * cout * cin];
    for tap in 0..9 {
        for c in 0..cin {
            for o in 0..cout {
                by_tap[(tap * cout + o) * cin + c] = weight[(tap * cin + c) * cout + o];
            }
        }
    }
    let grids = grids_per_tile(inputs * 9 * cout);
    par_filled(g.batch * inputs * cin, grids * inputs * cin, |tile, dx| {
        let first = tile * grids;
        let count = dx.len() / (inputs * cin);
        COLS.with(|cols| {
            let cols = &mut cols.borrow_mut();
            gather(grad, cout, g.outputs(), &reverse, first..first + count, cols);
            matmul(count * inputs, cin, 9 * cout, dx, false, cols, 9 * cout, 1, &by_tap);
        });
    })
}

/// [`input_grad`] by scattering each tile's neighbourhood gradients
/// `grad · weightᵀ` `[outputs, 9·cin]` onto the input positions, grid by grid in order.
fn input_grad_scattered(grad: &[f32], cout: usize, weight: &[f32], cin: usize, g: Geometry) -> Vec<f32> {
    let (taps, outputs, inputs) = (g.taps(), g.outputs(), g.inputs());
    let mut transposed = vec![0.0f32; cout * 9 * cin];
    for r in 0..9 * cin {
        for o in 0..cout {
            transposed[o * 9 * cin + r] = weight[r * cout + o];
        }
    }
    let grids = grids_per_tile(outputs * 9 * cin);
    par_filled(g.batch * inputs * cin, grids * inputs * cin, |tile, dx| {
        let first = tile * grids;
        let count = dx.len() / (inputs * cin);
        dx.iter_mut().for_each(|v| {
            v.write(0.0);
        });
        // SAFETY: just initialised.
        let dx = unsafe { assume_init(dx) };
        COLS.with(|cols| {
            let cols = &mut cols.borrow_mut();
            cols.resize(count * outputs * 9 * cin, 0.0);
            let rows = &grad[first * outputs * cout..][..count * outputs * cout];
            // SAFETY: MaybeUninit<f32> has f32's layout; the product only writes.
            let dst = unsafe { &mut *(&mut cols[..] as *mut [f32] as *mut [MaybeUninit<f32>]) };
            matmul(count * outputs, 9 * cin, cout, dst, false, rows, cout, 1, &transposed);
            vectorised(|| {
                for (dx, cols) in dx.chunks_exact_mut(inputs * cin).zip(cols.chunks_exact(outputs * 9 * cin)) {
                    for (q, d) in taps.iter().zip(cols.chunks_exact(cin)) {
                        if let Some(q) = q {
                            dx[q * cin..][..cin].iter_mut().zip(d).for_each(|(x, d)| *x += d);
                        }
                    }
                }
            });
        });
    })
}

/// The weight and bias gradients on slices: `x` `[batch·inputs, cin]`, `grad`
/// `[batch·outputs, cout]` → (`[9·cin, cout]`, `[cout]`). Tiles are summed in order, so the
/// result is the same for any number of threads.
pub fn weight_grad(x: &[f32], cin: usize, grad: &[f32], cout: usize, g: Geometry) -> (Vec<f32>, Vec<f32>) {
    let (taps, outputs) = (g.taps(), g.outputs());
    let grids = grids_per_tile(outputs * 9 * cin);
    let tiles = g.batch.div_ceil(grids);
    let partials: Vec<Vec<f32>> = (0..tiles)
        .into_par_iter()
        .map(|tile| {
            let range = tile * grids..((tile + 1) * grids).min(g.batch);
            let rows = range.len() * outputs;
            let grad = &grad[range.start * outputs * cout..][..rows * cout];
            let mut part = Vec::with_capacity((9 * cin + 1) * cout);
            let (dw, db) = part.spare_capacity_mut()[..(9 * cin + 1) * cout].split_at_mut(9 * cin * cout);
            COLS.with(|cols| {
                let cols = &mut cols.borrow_mut();
                gather(x, cin, g.inputs(), &taps, range, cols);
                // dw = colsᵀ · grad: colsᵀ's rows are the columns of cols.
                matmul(9 * cin, cout, rows, dw, false, cols, 1, 9 * cin, grad);
            });
            write(db, &bias_grad(grad, cout));
            // SAFETY: the product wrote dw and db was just written: all (9·cin + 1)·cout.
            unsafe { part.set_len((9 * cin + 1) * cout) };
            part
        })
        .collect();
    sum_partials(partials, 9 * cin * cout, cout)
}

/// Per-tile gradient partials, each the weight gradient's `weights` values followed by the
/// bias gradient's `biases`, summed in tile order (so the result does not depend on how many
/// threads made them) and split into (weight gradient, bias gradient).
pub(crate) fn sum_partials(partials: Vec<Vec<f32>>, weights: usize, biases: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f32; weights + biases];
    for part in partials {
        sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
    let db = sum.split_off(weights);
    (sum, db)
}

/// The bias gradient: `grad` `[rows, cout]` summed over its rows.
fn bias_grad(grad: &[f32], cout: usize) -> Vec<f32> {
    let mut db = vec![0.0f32; cout];
    add_row_sums(&mut db, grad);
    db
}

/// Adds the rows of `rows` (`[n, db.len()]`) to `db`, in row order.
pub(crate) fn add_row_sums(db: &mut [f32], rows: &[f32]) {
    for row in rows.chunks_exact(db.len()) {
        db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
    }
}
