//! A same-padded 3×3 convolution of an input that needs no gradient and is mostly zeros,
//! computed by table lookups, with its bias and activation, for the CPU (flex) backend, forward
//! and backward, as a burn backend extension. The models' first convolution reads the
//! observations: one-hot grids, where each cell has 0, 1 or (rarely) 2 of its 8 channels set,
//! each to 1.0.
//!
//! The dense kernel ([`crate::conv3x3`]) gathers each output position's 3×3 neighbourhood (72
//! floats for 8 channels) and multiplies it with the weight, although nearly all of those floats
//! are zero. Here the input is reduced to a few *patterns*, the distinct lists of nonzero
//! `(channel, value)` entries a cell has, and a code per cell naming its pattern (code 0 is the
//! empty pattern, which is also what the padding reads). Then, per tile of grids:
//!
//! - forward: a table holds, for every pattern `k` and tap `t`, the pattern's contribution
//!   `T[k, t, :] = Σ value · W[t, channel, :]` over its entries; an output row is the bias plus
//!   the 9 rows `T[code of the cell under tap t, t, :]`, added in registers, then the
//!   activation: 9 row additions per output instead of a 72-long dot product per output channel,
//!   and no gather.
//! - backward: the weight gradient is `dW[t, channel, :] = Σ value · S[k, t, :]` over the
//!   entries of every pattern `k`, where `S[k, t, :]` sums the pre-activation gradient `dY` (the
//!   activation's derivative applied to the output's gradient) of the outputs that read a cell of
//!   pattern `k` through tap `t`. The cells are listed pattern by pattern, so each `S[k, ·, :]` is
//!   summed in registers over its cells' 9 readers, read from `dY` laid out with a border of
//!   zero rows (an edge cell's missing readers); the empty pattern, which has no entries, is
//!   skipped. The bias gradient is `Σ dY`.
//!
//! Both are the dense convolution's sums regrouped (by pattern), so they hold for any input
//! values; only the order of the additions differs. Cells whose nonzeros are all 1.0, in inputs
//! of at most [`MASK_CHANNELS`] channels, share one pattern per set of channels (found through a
//! table indexed by that set as a bit mask), so a tile of observations has a handful of patterns;
//! any other nonzero cell gets a pattern of its own, which costs what adding its entries' rows
//! one by one would. Tiles are a fixed number of grids, spread over the cores with rayon, and
//! the gradients sum per-tile partials in tile order, so, as with the dense kernel, the result
//! does not depend on the number of threads.
//!
//! The input is read channels-first `[batch, in, h, w]`, as observations are stored, so it is
//! never transposed into rows; the output is channels-last rows `[batch·h·w, out]`, like the
//! dense kernel's. No gradient flows to the input: autodiff must not be tracking it.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::prelude::*;
use rayon::prelude::*;

use crate::conv3x3::{add_row_sums, assume_init, flex_tensor, matrix, par_filled, slice, sum_partials, Activation};
use crate::elementwise::vectorised;

/// The sparse convolution as a backend operation, reached from a `Tensor` through burn's runtime
/// dispatch. Only the flex backend (and autodiff over it) implements it: use it where
/// [`crate::conv3x3::runs_fused`] holds.
#[backend_extension(Flex, Autodiff)]
pub trait Sparse3x3Backend: Backend {
    /// `activation(x ⊛ weight + bias)` with stride 1 and one cell of zero padding: `x`
    /// `[batch, in, h, w]`, not tracked by autodiff; `weight` `[9·in, out]` (row
    /// `tap·in + channel`); `bias` `[out]` → `[batch·h·w, out]`.
    fn sparse_conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self>;
}

/// The sparse convolution on `Tensor`s (see [`Sparse3x3Backend::sparse_conv3x3`]); only for
/// devices where [`crate::conv3x3::runs_fused`] holds, and inputs that are not tracked.
pub fn sparse_conv3x3(x: Tensor<4>, weight: Tensor<2>, bias: Tensor<1>, activation: Activation) -> Tensor<2> {
    assert!(!x.is_tracked(), "the sparse convolution computes no input gradient: its input must not be tracked");
    Tensor::from_dispatch(<Dispatch as Sparse3x3Backend>::sparse_conv3x3(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), activation))
}

/// Grids per tile. Fixed, not derived from the number of threads, so that the gradients' partial
/// sums (and so their rounding) are the same on any machine; 8 grids of 9×9 with 16 output
/// channels are a 41 KiB output tile, and a minibatch of 256 grids 32 tiles to spread.
const GRIDS_PER_TILE: usize = 8;

/// Inputs of at most this many channels find the shared pattern of a cell whose nonzeros are all
/// 1.0 through a table indexed by its channels as a bit mask (16 KiB per tile): the observations'
/// 8, with room for a few more.
pub const MASK_CHANNELS: usize = 12;

/// The shape of a batch: `batch` grids of `h × w` cells, `cin` channels in, `cout` out.
#[derive(Clone, Copy, Debug)]
struct Shape {
    batch: usize,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
}

impl Shape {
    /// Cells of one grid.
    fn cells(&self) -> usize {
        self.h * self.w
    }

    /// Columns of a grid with a border of one cell.
    fn wp(&self) -> usize {
        self.w + 2
    }

    /// Cells of a grid with a border of one cell.
    fn padded(&self) -> usize {
        (self.h + 2) * self.wp()
    }

    /// The offsets, in a grid with a border, of the cells under the 9 taps (row-major over the
    /// kernel) from the cell under tap 0. The cell at `(y, x)` is at `(y + 1)·wp + x + 1`; the
    /// output there reads the cells at its own offset plus these, less `wp + 1`.
    fn taps(&self) -> [usize; 9] {
        let wp = self.wp();
        [0, 1, 2, wp, wp + 1, wp + 2, 2 * wp, 2 * wp + 1, 2 * wp + 2]
    }
}

/// An input reduced to patterns and codes, tile by tile (see the module docs).
#[derive(Debug)]
struct Sparse {
    tiles: Vec<Tile>,
}

/// One tile's patterns and codes.
#[derive(Debug)]
struct Tile {
    /// Each grid's codes with a border of code 0 (the padding): `grids · (h + 2) · (w + 2)`,
    /// row-major.
    codes: Vec<u32>,
    /// Where each pattern's entries begin in `entries`, then where the last one's end. Pattern 0
    /// is empty.
    starts: Vec<u32>,
    /// `(channel, value)` pairs, channels ascending within a pattern.
    entries: Vec<(u32, f32)>,
    /// The positions in `codes` of the cells of each nonempty pattern, pattern after pattern.
    members: Vec<u32>,
    /// Where each pattern's cells begin in `members`, then where the last one's end.
    member_starts: Vec<u32>,
}

impl Tile {
    /// The number of patterns.
    fn patterns(&self) -> usize {
        self.starts.len() - 1
    }

    /// The entries of pattern `k`.
    fn pattern(&self, k: usize) -> &[(u32, f32)] {
        &self.entries[self.starts[k] as usize..self.starts[k + 1] as usize]
    }

    /// The positions of the cells of pattern `k` (none for the empty pattern).
    fn members(&self, k: usize) -> &[u32] {
        &self.members[self.member_starts[k] as usize..self.member_starts[k + 1] as usize]
    }

    /// Ends a pattern whose entries have just been pushed; its code.
    fn close_pattern(&mut self) -> u32 {
        self.starts.push(u32::try_from(self.entries.len()).expect("under 2³² entries per tile"));
        u32::try_from(self.starts.len() - 2).expect("under 2³² patterns per tile")
    }

    /// The patterns and codes of `grids` of `x` `[batch, cin, h, w]`. NaNs count as nonzero, so
    /// they propagate as in a dense convolution.
    fn new(x: &[f32], s: Shape, grids: Range<usize>) -> Tile {
        let (cells, cin, wp, padded) = (s.cells(), s.cin, s.wp(), s.padded());
        let mut tile = Tile { codes: vec![0; grids.len() * padded], starts: vec![0, 0], entries: Vec::new(), members: Vec::new(), member_starts: Vec::new() };
        // Per cell, as 0 or 1: whether it has a nonzero, and whether its nonzeros are all 1.0;
        // and its nonzero channels as a bit mask (used when there are few enough channels).
        let masked = cin <= MASK_CHANNELS;
        let (mut nonzero, mut ones, mut mask) = (vec![0u32; cells], vec![1u32; cells], vec![0u32; cells]);
        // The code of each mask's pattern; `u32::MAX` where none has been made yet.
        let mut by_mask = if masked { vec![u32::MAX; 1 << cin] } else { Vec::new() };
        if masked {
            by_mask[0] = 0;
        }
        for (k, grid) in grids.enumerate() {
            let grid = &x[grid * cin * cells..][..cin * cells];
            nonzero.fill(0);
            ones.fill(1);
            mask.fill(0);
            // Channel planes are contiguous: this loop runs over cells and vectorises.
            vectorised(
                #[inline(always)]
                || {
                    for (c, plane) in grid.chunks_exact(cells).enumerate() {
                        for (((n, o), m), &v) in nonzero.iter_mut().zip(&mut ones).zip(&mut mask).zip(plane) {
                            let set = (v != 0.0) as u32;
                            *n |= set;
                            *o &= (v == 0.0 || v == 1.0) as u32;
                            *m |= set << (c % 32);
                        }
                    }
                },
            );
            for p in 0..cells {
                let code = if masked && ones[p] == 1 {
                    match by_mask[mask[p] as usize] {
                        u32::MAX => {
                            tile.entries.extend((0..cin).filter(|c| mask[p] >> c & 1 == 1).map(|c| (c as u32, 1.0)));
                            let code = tile.close_pattern();
                            by_mask[mask[p] as usize] = code;
                            code
                        }
                        code => code,
                    }
                } else if nonzero[p] == 1 {
                    tile.entries.extend((0..cin).map(|c| (c as u32, grid[c * cells + p])).filter(|&(_, v)| v != 0.0));
                    tile.close_pattern()
                } else {
                    0
                };
                tile.codes[k * padded + (p / s.w + 1) * wp + p % s.w + 1] = code;
            }
        }
        // List the cells pattern by pattern (a counting sort of their codes).
        let mut next = vec![0u32; tile.patterns() + 1];
        for &code in &tile.codes {
            next[code as usize + 1] += 1;
        }
        next[1] = 0; // the empty pattern's cells are not listed
        for k in 1..next.len() {
            next[k] += next[k - 1];
        }
        tile.member_starts = next.clone();
        tile.members = vec![0; *next.last().expect("a pattern") as usize];
        for (at, &code) in tile.codes.iter().enumerate() {
            if code != 0 {
                tile.members[next[code as usize] as usize] = at as u32;
                next[code as usize] += 1;
            }
        }
        tile
    }
}

impl Sparse {
    /// The patterns and codes of `x` `[batch, cin, h, w]`, tile by tile.
    fn new(x: &[f32], s: Shape) -> Sparse {
        let tiles = (0..s.batch.div_ceil(GRIDS_PER_TILE))
            .into_par_iter()
            .map(|tile| Tile::new(x, s, tile * GRIDS_PER_TILE..((tile + 1) * GRIDS_PER_TILE).min(s.batch)))
            .collect();
        Sparse { tiles }
    }
}

/// Floats in a cache line.
const LINE: usize = 16;

/// `n` zeros, with room to start them on a cache line (see [`aligned`]).
fn zeroed_lines(n: usize) -> Vec<f32> {
    vec![0.0; n + LINE - 1]
}

/// The part of `v` (from [`zeroed_lines`]) that starts on a cache line, so that the rows of 16
/// or 32 channels read and written in the loops below are whole lines rather than each split
/// over two.
fn aligned(v: &mut [f32]) -> &mut [f32] {
    let skip = v.as_ptr().align_offset(LINE * std::mem::size_of::<f32>()).min(LINE - 1);
    let n = v.len() - (LINE - 1);
    &mut v[skip..skip + n]
}

/// `dst[b..b + B] = start[b..b + B] + Σ table[row + b..][..B]` over the 9 `rows`, the sum kept
/// in registers (written as loops over slices, the compiler cannot rule out that `dst` overlaps
/// the table and keeps the sum in memory).
#[inline(always)]
fn sum_block<const B: usize>(dst: &mut [f32], start: &[f32], table: &[f32], rows: &[usize; 9], b: usize) {
    let mut acc: [f32; B] = start[b..b + B].try_into().expect("a block");
    for &row in rows {
        let row: &[f32; B] = table[row + b..][..B].try_into().expect("a block");
        acc.iter_mut().zip(row).for_each(|(a, r)| *a += r);
    }
    dst[b..b + B].copy_from_slice(&acc);
}

/// `dst = start + Σ table[row..][..dst.len()]` over the 9 `rows`: in blocks of 16 (one AVX-512
/// vector), then 8, then one at a time.
#[inline(always)]
fn sum_rows(dst: &mut [f32], start: &[f32], table: &[f32], rows: &[usize; 9]) {
    let (n, mut b) = (dst.len(), 0);
    while b + 16 <= n {
        sum_block::<16>(dst, start, table, rows, b);
        b += 16;
    }
    if b + 8 <= n {
        sum_block::<8>(dst, start, table, rows, b);
        b += 8;
    }
    for i in b..n {
        dst[i] = rows.iter().fold(start[i], |a, &row| a + table[row + i]);
    }
}

/// `dst += v · src`, elementwise (equal lengths): only for the small tables, so plainly.
fn add_scaled(dst: &mut [f32], v: f32, src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += v * s);
}

/// Fills `table` (zeros, `[patterns · 9, cout]`) with `T[k, t, :]`, each pattern's
/// contribution through each tap.
fn contributions(tile: &Tile, weight: &[f32], s: Shape, table: &mut [f32]) {
    let (cin, cout) = (s.cin, s.cout);
    for (k, rows) in table.chunks_exact_mut(9 * cout).enumerate() {
        for (t, row) in rows.chunks_exact_mut(cout).enumerate() {
            for &(c, v) in tile.pattern(k) {
                add_scaled(row, v, &weight[(t * cin + c as usize) * cout..][..cout]);
            }
        }
    }
}

/// One tile's output rows `y` `[grids·h·w, cout]` before the activation: the bias plus the
/// table's rows under each output's taps. `N` is `cout` when it is a constant of the call (the
/// rows then compile to straight-line vector code), 0 when it is only known at run time.
#[inline(always)]
fn lookup<const N: usize>(tile: &Tile, table: &[f32], s: Shape, bias: &[f32], y: &mut [f32]) {
    let cout = if N == 0 { s.cout } else { N };
    let (taps, wp) = (s.taps(), s.wp());
    let mut rows = [0usize; 9];
    for (codes, y) in tile.codes.chunks_exact(s.padded()).zip(y.chunks_exact_mut(s.cells() * cout)) {
        let mut y = y.chunks_exact_mut(cout);
        for oy in 0..s.h {
            for ox in 0..s.w {
                let codes = &codes[oy * wp + ox..][..taps[8] + 1];
                for (t, row) in rows.iter_mut().enumerate() {
                    *row = (codes[taps[t]] as usize * 9 + t) * cout;
                }
                sum_rows(y.next().expect("a row per output"), bias, table, &rows);
            }
        }
    }
}

/// The forward pass: `weight` `[9·cin, cout]`, `bias` `[cout]` → `[batch·h·w, cout]`.
fn forward(sparse: &Sparse, weight: &[f32], bias: &[f32], s: Shape, activation: Activation) -> Vec<f32> {
    let rows = s.cells() * s.cout;
    par_filled(s.batch * rows, GRIDS_PER_TILE * rows, |i, y| {
        let tile = &sparse.tiles[i];
        let mut memory = zeroed_lines(tile.patterns() * 9 * s.cout);
        let table = aligned(&mut memory);
        contributions(tile, weight, s, table);
        // SAFETY: `lookup` writes every row of the tile before anything reads it.
        let y = unsafe { assume_init(y) };
        // The closure is inlined into `vectorised`'s AVX copies (otherwise, this large, it
        // would stay a function of its own compiled for the baseline instruction set), and so
        // is the `lookup` for the row length of the call.
        vectorised(
            #[inline(always)]
            || match s.cout {
                16 => lookup::<16>(tile, table, s, bias, y),
                32 => lookup::<32>(tile, table, s, bias, y),
                _ => lookup::<0>(tile, table, s, bias, y),
            },
        );
        activation.apply(y);
    })
}

/// `sums[t][b..b + B] = Σ dy[cell − taps[t] + b..][..B]` (one row per tap, rows of `cout`) over
/// the cells at `members` (positions in a grid with a border, as in `dy`), in registers.
#[inline(always)]
fn reader_block<const B: usize>(dy: &[f32], members: &[u32], taps: &[usize; 9], cout: usize, b: usize, sums: &mut [f32]) {
    let mut acc = [[0.0f32; B]; 9];
    for &cell in members {
        // The output at the cell's own position reads it through the middle tap (4): through
        // tap `t` it is read by the output `taps[t] − taps[4]` before it.
        let last = (cell as usize + taps[4]) * cout + b;
        for (acc, &tap) in acc.iter_mut().zip(taps) {
            let row: &[f32; B] = dy[last - tap * cout..][..B].try_into().expect("a block");
            acc.iter_mut().zip(row).for_each(|(a, r)| *a += r);
        }
    }
    for (t, acc) in acc.iter().enumerate() {
        sums[t * cout + b..][..B].copy_from_slice(acc);
    }
}

/// For each tap, the sum over the cells at `members` of the gradient `dy` of the output that
/// reads the cell through that tap → `sums` `[9, cout]`. `N` as for [`lookup`].
#[inline(always)]
fn readers<const N: usize>(dy: &[f32], members: &[u32], taps: &[usize; 9], cout: usize, sums: &mut [f32]) {
    let cout = if N == 0 { cout } else { N };
    let mut b = 0;
    while b + 16 <= cout {
        reader_block::<16>(dy, members, taps, cout, b, sums);
        b += 16;
    }
    if b + 8 <= cout {
        reader_block::<8>(dy, members, taps, cout, b, sums);
        b += 8;
    }
    for i in b..cout {
        for (t, &tap) in taps.iter().enumerate() {
            sums[t * cout + i] = members.iter().map(|&cell| dy[(cell as usize + taps[4] - tap) * cout + i]).sum();
        }
    }
}

/// The weight and bias gradients from the output's gradient `grad` `[batch·h·w, cout]` and, for
/// an activation other than the identity, the output `y` itself → (`[9·cin, cout]`, `[cout]`).
/// Tiles are summed in order, so the result is the same for any number of threads.
fn weight_grad(sparse: &Sparse, grad: &[f32], y: Option<&[f32]>, activation: Activation, s: Shape) -> (Vec<f32>, Vec<f32>) {
    let (cin, cout, wp, taps) = (s.cin, s.cout, s.wp(), s.taps());
    let per_grid = s.cells() * cout;
    let partials: Vec<Vec<f32>> = sparse
        .tiles
        .par_iter()
        .enumerate()
        .map(|(i, tile)| {
            let grids = tile.codes.len() / s.padded();
            let first = i * GRIDS_PER_TILE * per_grid;
            // The pre-activation gradient of the tile's outputs, each grid with a border of zero
            // rows, so that every cell has 9 readers to add; made while the tile is in cache.
            let mut memory = zeroed_lines(grids * s.padded() * cout);
            let dy = aligned(&mut memory);
            let mut db = vec![0.0f32; cout];
            for k in 0..grids {
                for oy in 0..s.h {
                    let at = first + k * per_grid + oy * s.w * cout;
                    let (grad, d) = (&grad[at..][..s.w * cout], &mut dy[(k * s.padded() + (oy + 1) * wp + 1) * cout..][..s.w * cout]);
                    match y {
                        // SAFETY: MaybeUninit<f32> has f32's layout, and `backward` only writes.
                        Some(y) => activation.backward(&y[at..][..s.w * cout], grad, unsafe { &mut *(d as *mut [f32] as *mut [MaybeUninit<f32>]) }),
                        None => d.copy_from_slice(grad),
                    }
                    add_row_sums(&mut db, d);
                }
            }
            let mut part = vec![0.0f32; (9 * cin + 1) * cout];
            let mut sums = vec![0.0f32; 9 * cout];
            for k in 1..tile.patterns() {
                vectorised(
                    #[inline(always)]
                    || match cout {
                        16 => readers::<16>(dy, tile.members(k), &taps, cout, &mut sums),
                        32 => readers::<32>(dy, tile.members(k), &taps, cout, &mut sums),
                        _ => readers::<0>(dy, tile.members(k), &taps, cout, &mut sums),
                    },
                );
                for (t, s) in sums.chunks_exact(cout).enumerate() {
                    for &(c, v) in tile.pattern(k) {
                        add_scaled(&mut part[(t * cin + c as usize) * cout..][..cout], v, s);
                    }
                }
            }
            part[9 * cin * cout..].copy_from_slice(&db);
            part
        })
        .collect();
    sum_partials(partials, 9 * cin * cout, cout)
}

/// The input reduced to patterns, its shape and the output rows, from flex tensors.
fn run(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor, activation: Activation) -> (Sparse, Shape, FlexTensor) {
    let [batch, cin, h, w] = x.layout().shape().dims();
    let ((x, ..), (weight, rows, cout), (bias, ..)) = (matrix(x), matrix(weight), matrix(bias));
    assert_eq!(rows, 9 * cin, "the weight has a row per tap and input channel");
    let s = Shape { batch, h, w, cin, cout };
    let sparse = Sparse::new(slice(&x), s);
    let y = forward(&sparse, slice(&weight), slice(&bias), s, activation);
    (sparse, s, flex_tensor(y, &[batch * h * w, cout]))
}

impl Sparse3x3Backend for Flex {
    fn sparse_conv3x3(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, activation: Activation) -> FlexTensor {
        run(&x, &weight, &bias, activation).2
    }
}

/// The backward step: the activation's derivative, then the weight and bias gradients.
#[derive(Debug)]
struct Sparse3x3Backward;

/// What [`Sparse3x3Backward`] keeps from the forward pass.
#[derive(Clone, Debug)]
struct Sparse3x3State {
    /// The input's patterns and codes (shared: autodiff clones the state).
    sparse: Arc<Sparse>,
    shape: Shape,
    /// The output, when the activation's derivative needs it.
    output: Option<FlexTensor>,
    activation: Activation,
}

impl Backward<Flex, 2> for Sparse3x3Backward {
    type State = Sparse3x3State;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_weight, node_bias] = ops.parents;
        let Sparse3x3State { sparse, shape, output, activation } = ops.state;
        let (grad, ..) = matrix(&grads.consume::<Flex>(&ops.node));
        let output = output.map(|y| matrix(&y).0);
        let (dw, db) = weight_grad(&sparse, slice(&grad), output.as_ref().map(slice), activation, shape);
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex_tensor(dw, &[9 * shape.cin, shape.cout]));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex_tensor(db, &[shape.cout]));
        }
    }
}

impl<C: CheckpointStrategy> Sparse3x3Backend for Autodiff<Flex, C> {
    fn sparse_conv3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, activation: Activation) -> FloatTensor<Self> {
        assert!(!x.is_tracked(), "the sparse convolution computes no input gradient: its input must not be tracked");
        match Sparse3x3Backward.prepare::<C>([weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (sparse, shape, y) = run(x.primitive(), weight.primitive(), bias.primitive(), activation);
                let output = (activation != Activation::Identity).then(|| y.clone());
                prep.finish(Sparse3x3State { sparse: Arc::new(sparse), shape, output, activation }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::sparse_conv3x3(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), activation)),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::activation::{relu, sigmoid, tanh};
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    use super::*;
    use crate::conv3x3::runs_fused;

    /// `[batch, cin, h, w]` inputs whose cells have 0, 1 or 2 nonzeros: mostly 1.0 (as one-hot
    /// observations), some 0.5 or −2.5 (so that the patterns of any values are tested too).
    fn sparse_input(batch: usize, cin: usize, h: usize, w: usize, rng: &mut impl Rng) -> Vec<f32> {
        let mut x = vec![0.0f32; batch * cin * h * w];
        for b in 0..batch {
            for p in 0..h * w {
                let set = match rng.random_range(0..20) {
                    0..8 => 0,
                    8..17 => 1,
                    _ => 2,
                };
                for _ in 0..set {
                    let c = rng.random_range(0..cin);
                    x[(b * cin + c) * h * w + p] = match rng.random_range(0..10) {
                        0 => 0.5,
                        1 => -2.5,
                        _ => 1.0,
                    };
                }
            }
        }
        x
    }

    /// The sparse convolution gives burn's `Conv2d` (3×3, stride 1, padding 1) answer followed
    /// by each activation, and the same weight and bias gradients, for one-hot-like inputs with
    /// 0, 1 or 2 nonzeros per cell and some values other than 1.0, dense random inputs, inputs of
    /// more channels than [`MASK_CHANNELS`], non-square and tiny grids, odd channel counts, and
    /// batches of 1 up to several tiles with a partial last one.
    #[test]
    fn matches_burn_conv2d_values_and_gradients() {
        let device = Device::flex().autodiff();
        assert!(runs_fused(&device), "the CPU device runs the sparse kernel");
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        // (in, out, h, w, batch, dense input)
        let cases = [
            (8, 16, 9, 9, 3, false),
            (8, 16, 9, 9, 37, false),
            (8, 32, 7, 5, 17, false),
            (8, 16, 5, 7, 8, true),
            (3, 5, 4, 6, 9, false),
            (13, 8, 6, 6, 10, false),
            (2, 3, 1, 1, 2, false),
            (4, 24, 3, 2, 1, true),
        ];
        for (i, o, h, w, batch, dense) in cases {
            let mut conv = Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
            conv.weight = Param::from_tensor(Tensor::<4>::random([o, i, 3, 3], dist, &device));
            conv.bias = Some(Param::from_tensor(Tensor::<1>::random([o], dist, &device)));
            let values = if dense { (0..batch * i * h * w).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect() } else { sparse_input(batch, i, h, w, &mut rng) };
            let x = Tensor::<4>::from_data(TensorData::new(values, [batch, i, h, w]), &device);
            let weights = Tensor::<4>::random([batch, o, h, w], dist, &device);
            for activation in [Activation::Identity, Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
                let case = format!("{activation:?}: {i}→{o} on {batch}×{h}×{w}, dense {dense}");
                let reference = conv.forward(x.clone());
                let reference = match activation {
                    Activation::Identity => reference,
                    Activation::Relu => relu(reference),
                    Activation::Sigmoid => sigmoid(reference),
                    Activation::Tanh => tanh(reference),
                };
                let matrix = conv.weight.val().permute([2, 3, 1, 0]).reshape([9 * i, o]);
                let ours = sparse_conv3x3(x.clone(), matrix, conv.bias.as_ref().unwrap().val(), activation);
                let ours = ours.reshape([batch, h, w, o]).permute([0, 3, 1, 2]);
                let err: f32 = (ours.clone() - reference.clone()).abs().max().into_scalar();
                assert!(err < 1e-4, "values differ by {err} ({case})");
                // A loss that weighs every output differently, so every gradient entry is tested.
                let grads_of = |y: Tensor<4>| {
                    let g = (y * weights.clone()).sum().backward();
                    let get = |t: Tensor<4>| t.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
                    (get(conv.weight.val()), conv.bias.as_ref().unwrap().val().grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap())
                };
                let (a, b) = (grads_of(ours), grads_of(reference));
                for (name, ours, reference) in [("weight", a.0, b.0), ("bias", a.1, b.1)] {
                    let err = ours.iter().zip(&reference).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                    let scale = reference.iter().map(|q| q.abs()).fold(1.0f32, f32::max);
                    assert!(err < 1e-4 * scale, "{name} gradient differs by {err} (scale {scale}) ({case})");
                }
            }
        }
    }

    /// The values and gradients are the same bits with 1 thread as with 3: tiles are fixed and
    /// their partial sums added in order.
    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let device = Device::flex().autodiff();
        let mut rng = Pcg64Mcg::seed_from_u64(12);
        let (batch, i, o, h, w) = (45, 8, 16, 9, 9);
        let x = Tensor::<4>::from_data(TensorData::new(sparse_input(batch, i, h, w, &mut rng), [batch, i, h, w]), &device);
        let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
        let weight = Tensor::<2>::random([9 * i, o], dist, &device).require_grad();
        let bias = Tensor::<1>::random([o], dist, &device).require_grad();
        let loss_weights = Tensor::<2>::random([batch * h * w, o], dist, &device);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let y = sparse_conv3x3(x.clone(), weight.clone(), bias.clone(), Activation::Relu);
                let g = (y.clone() * loss_weights.clone()).sum().backward();
                let bits = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap().into_iter().map(f32::to_bits).collect::<Vec<_>>();
                (bits(y), bits(weight.grad(&g).unwrap()), bits(bias.grad(&g).unwrap().unsqueeze_dim(0)))
            })
        };
        assert!(run(1) == run(3));
    }

    /// Autodiff tracking the input is refused: its gradient would silently be missing.
    #[test]
    #[should_panic(expected = "must not be tracked")]
    fn a_tracked_input_is_refused() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::zeros([1, 2, 3, 3], &device).require_grad();
        sparse_conv3x3(x, Tensor::zeros([18, 4], &device), Tensor::zeros([4], &device), Activation::Relu);
    }
}
