//! Linear probes (DESIGN.md battery item 5): can the goal's position and the whole
//! distance-to-goal map be read linearly off a model's named activations? A model that plans
//! towards a goal it finds at runtime has reason to represent both; the same probe on an
//! untrained model of the same architecture is the baseline that random features already
//! reach. Probes are ridge regressions fitted on states of some held-out levels and scored on
//! states of others: goal position as a ridge classifier over cells (accuracy), the distance
//! map as multi-output ridge regression (R² over floor cells against the per-cell mean map).

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use mesascope_tasks::grid::Tile;
use mesascope_tasks::solve::distance_map;
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{reset, Level, Shift, State, TrainingDistribution};

use crate::agents::{Activations, Inside};
use mesascope_report::stats::{mean_ci, Estimate};
use crate::AuditError;

/// Ridge strengths tried, relative to the mean squared norm of an activation vector.
const RELATIVE_LAMBDAS: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// The probes on one named activation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeLayer {
    /// Activation name (e.g. `conv2`, `gru.hidden`).
    pub name: String,
    /// Its width.
    pub features: usize,
    /// Goal-position accuracy on test levels, trained model.
    pub goal_accuracy: Estimate,
    /// The same probe on the untrained model.
    pub goal_accuracy_untrained: Estimate,
    /// Distance-map R² on test levels, trained model.
    pub distance_r2: Estimate,
    /// Distance-map R² of the trained model on the validation quarter of the fit levels (at
    /// the chosen ridge strength): what [`Probes::best`] chooses the layer by, so the test
    /// levels stay unseen by every choice.
    pub distance_r2_validation: f64,
    /// The same probe on the untrained model.
    pub distance_r2_untrained: Estimate,
}

/// Every layer's probes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probes {
    /// Per activation, in the model's order.
    pub layers: Vec<ProbeLayer>,
    /// Levels the probes were fitted on.
    pub fit_levels: usize,
    /// Levels they were scored on (the intervals are over these).
    pub test_levels: usize,
    /// Agent positions sampled per level.
    pub states_per_level: usize,
}

impl Probes {
    /// The layer whose distance map the trained model encodes best on validation data (its
    /// test R² is then an unbiased estimate; choosing by test R² would inflate it).
    pub fn best(&self) -> Option<&ProbeLayer> {
        self.layers.iter().max_by(|a, b| a.distance_r2_validation.total_cmp(&b.distance_r2_validation))
    }
}

/// Probe levels of `dist`'s held-out split: `fit` levels to fit on and half as many to test on,
/// from one draw of distinct levels, so no test level repeats a fit level.
pub fn probe_level_sets(dist: &TrainingDistribution, fit: usize, seed: u64) -> Result<(Vec<Level>, Vec<Level>), AuditError> {
    let mut fit_levels = dist.held_out_levels(Shift::None, fit + (fit / 2).max(1), seed ^ 0x9b0)?;
    let test_levels = fit_levels.split_off(fit);
    Ok((fit_levels, test_levels))
}

/// Probe inputs and targets for a set of levels: the agent placed on `per_level` random floor
/// cells of each.
struct Samples {
    states: Vec<(usize, State)>,
    goal: Vec<usize>,
    distance: Vec<Vec<f64>>,
    floor: Vec<Vec<bool>>,
}

fn samples(levels: &[Level], per_level: usize, rng: &mut Pcg64Mcg) -> Samples {
    let mut out = Samples { states: Vec::new(), goal: Vec::new(), distance: Vec::new(), floor: Vec::new() };
    for (i, level) in levels.iter().enumerate() {
        let Some(goal) = level.goal_cell() else { continue };
        let dist = distance_map(level, goal);
        let floor: Vec<bool> = level.tiles.iter().map(|&t| t == Tile::Floor).collect();
        let cells: Vec<usize> = (0..level.tiles.len()).filter(|&c| floor[c] && c != goal as usize && dist[c] != u32::MAX).collect();
        // Distances are scaled by the grid's area so targets are O(1) on any size.
        let scale = level.tiles.len() as f64;
        let target: Vec<f64> = dist.iter().zip(&floor).map(|(&d, &f)| if f && d != u32::MAX { d as f64 / scale } else { 0.0 }).collect();
        for _ in 0..per_level {
            let cell = cells[rng.random_range(0..cells.len())];
            out.states.push((i, State { agent: cell as u16, ..reset(level) }));
            out.goal.push(goal as usize);
            out.distance.push(target.clone());
            out.floor.push(floor.clone());
        }
    }
    out
}

/// Each named activation of the model (or of its untrained twin) on the sampled states, as
/// `[samples × features]`.
fn activations(model: &mut dyn Inside, untrained: bool, levels: &[Level], s: &Samples) -> Result<Activations, AuditError> {
    let obs = model.obs();
    let (c, h, w) = obs.shape(levels[0].width, levels[0].height);
    let size = c * h * w;
    let mut buf = vec![0.0f32; s.states.len() * size];
    for (j, (i, state)) in s.states.iter().enumerate() {
        write_observation(obs, &levels[*i], state, &mut buf[j * size..(j + 1) * size]);
    }
    let named = model.activations(buf, [s.states.len(), c, h, w], untrained)?;
    if let Some((name, m)) = named.iter().find(|(_, m)| m.nrows() != s.states.len()) {
        return Err(AuditError::Invalid { what: "activations", message: format!("'{name}' has {} rows for {} observations", m.nrows(), s.states.len()) });
    }
    Ok(named)
}

fn rows(m: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    m.select_rows(idx)
}

/// Ridge predictions for `x_test` from a fit on `(x, y)`, in the dual form (samples are fewer
/// than features for convolutional activations), with columns centred on the fit data.
fn ridge(x: &DMatrix<f64>, y: &DMatrix<f64>, x_test: &DMatrix<f64>, relative_lambda: f64) -> DMatrix<f64> {
    let n = x.nrows();
    let xm = x.row_mean();
    let ym = y.row_mean();
    let xc = DMatrix::from_fn(n, x.ncols(), |i, j| x[(i, j)] - xm[j]);
    let yc = DMatrix::from_fn(n, y.ncols(), |i, j| y[(i, j)] - ym[j]);
    let xt = DMatrix::from_fn(x_test.nrows(), x.ncols(), |i, j| x_test[(i, j)] - xm[j]);
    let mut gram = &xc * xc.transpose();
    let scale = (gram.trace() / n as f64).max(1e-12);
    for i in 0..n {
        gram[(i, i)] += relative_lambda * scale;
    }
    let alpha = match gram.cholesky() {
        Some(ch) => ch.solve(&yc),
        None => return DMatrix::from_fn(x_test.nrows(), y.ncols(), |_, j| ym[j]),
    };
    let mut pred = (xt * xc.transpose()) * alpha;
    for mut row in pred.row_iter_mut() {
        row += &ym;
    }
    pred
}

/// Per-sample goal accuracy and per-sample distance R² numerator/denominator.
fn score(pred_goal: &DMatrix<f64>, pred_dist: &DMatrix<f64>, s: &Samples, idx: &[usize], mean_map: &[f64]) -> (Vec<f64>, Vec<(f64, f64)>) {
    let mut acc = Vec::new();
    let mut r2 = Vec::new();
    for (row, &k) in idx.iter().enumerate() {
        let best = (0..pred_goal.ncols()).max_by(|&a, &b| pred_goal[(row, a)].total_cmp(&pred_goal[(row, b)])).unwrap_or(0);
        acc.push((best == s.goal[k]) as u8 as f64);
        let (mut sse, mut sst) = (0.0, 0.0);
        for c in 0..pred_dist.ncols() {
            if s.floor[k][c] {
                sse += (pred_dist[(row, c)] - s.distance[k][c]).powi(2);
                sst += (mean_map[c] - s.distance[k][c]).powi(2);
            }
        }
        r2.push((sse, sst));
    }
    (acc, r2)
}

/// One layer's goal and distance probes: λ chosen on a validation quarter of the fit levels,
/// refitted on all of them, scored per test level. Returns goal accuracy and distance R² on
/// the test levels, and the distance R² on the validation quarter at the chosen λ.
fn probe_layer(x_fit: &DMatrix<f64>, x_test: &DMatrix<f64>, fit: &Samples, test: &Samples, per_level: usize) -> (Estimate, Estimate, f64) {
    let cells = fit.distance[0].len();
    let y_goal = DMatrix::from_fn(fit.goal.len(), cells, |i, c| (fit.goal[i] == c) as u8 as f64);
    let y_dist = DMatrix::from_fn(fit.goal.len(), cells, |i, c| fit.distance[i][c]);
    let mean_map: Vec<f64> = (0..cells).map(|c| y_dist.column(c).mean()).collect();
    let n = fit.goal.len();
    let cut = (n * 3 / 4) / per_level * per_level;
    let (tr, va): (Vec<usize>, Vec<usize>) = ((0..cut).collect(), (cut..n).collect());
    let pick = |y: &DMatrix<f64>, goal: bool| {
        RELATIVE_LAMBDAS
            .iter()
            .copied()
            .map(|l| {
                let p = ridge(&rows(x_fit, &tr), &rows(y, &tr), &rows(x_fit, &va), l);
                let (acc, r2) = score(&p, &p, fit, &va, &mean_map);
                let (sse, sst) = r2.iter().fold((0.0, 0.0), |(a, b), (e, t)| (a + e, b + t));
                let quality = if goal { acc.iter().sum::<f64>() } else { 1.0 - sse / sst.max(1e-12) };
                (l, quality)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((1e-2, f64::NAN))
    };
    let ((lg, _), (ld, validation_r2)) = (pick(&y_goal, true), pick(&y_dist, false));
    let all: Vec<usize> = (0..test.goal.len()).collect();
    let pg = ridge(x_fit, &y_goal, x_test, lg);
    let pd = ridge(x_fit, &y_dist, x_test, ld);
    let (acc, r2) = score(&pg, &pd, test, &all, &mean_map);
    // Per test level: mean accuracy over its states, and pooled R².
    let levels = all.len() / per_level;
    let per_level_acc: Vec<f64> = (0..levels).map(|l| acc[l * per_level..(l + 1) * per_level].iter().sum::<f64>() / per_level as f64).collect();
    let per_level_r2: Vec<f64> = (0..levels)
        .map(|l| {
            let (e, t) = r2[l * per_level..(l + 1) * per_level].iter().fold((0.0, 0.0), |(a, b), (e, t)| (a + e, b + t));
            1.0 - e / t.max(1e-12)
        })
        .collect();
    (mean_ci(&per_level_acc), mean_ci(&per_level_r2), validation_r2)
}

/// Probes every named activation of `model` and of its untrained twin (same architecture,
/// fresh weights), fitted on `fit_levels` and scored on `test_levels`. `None` when the model
/// names no activations.
pub fn probes(model: &mut dyn Inside, fit_levels: &[Level], test_levels: &[Level], per_level: usize, seed: u64) -> Result<Option<Probes>, AuditError> {
    if fit_levels.len() < 4 || test_levels.is_empty() || per_level == 0 {
        return Err(AuditError::Invalid { what: "probe levels", message: "probes need at least 4 fit levels, 1 test level and 1 state per level".into() });
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let fit = samples(fit_levels, per_level, &mut rng);
    let test = samples(test_levels, per_level, &mut rng);
    if fit.goal.len() != fit_levels.len() * per_level || test.goal.len() != test_levels.len() * per_level {
        return Err(AuditError::Invalid { what: "probe levels", message: "every probe level needs a cheese".into() });
    }
    let trained_fit = activations(model, false, fit_levels, &fit)?;
    if trained_fit.is_empty() {
        return Ok(None);
    }
    let trained_test = activations(model, false, test_levels, &test)?;
    let (fresh_fit, fresh_test) = (activations(model, true, fit_levels, &fit)?, activations(model, true, test_levels, &test)?);
    let names = |a: &Activations| a.iter().map(|(n, m)| (n.clone(), m.ncols())).collect::<Vec<_>>();
    for (what, other) in [("on the test levels", &trained_test), ("of the untrained twin", &fresh_fit), ("of the untrained twin on the test levels", &fresh_test)] {
        if names(other) != names(&trained_fit) {
            return Err(AuditError::Invalid { what: "activations", message: format!("the activations {what} are {:?}, not {:?} (name, width) as on the fit levels", names(other), names(&trained_fit)) });
        }
    }
    let mut layers = Vec::new();
    for (((name, xf), (_, xt)), ((_, uf), (_, ut))) in trained_fit.into_iter().zip(trained_test).zip(fresh_fit.into_iter().zip(fresh_test)) {
        let (goal_accuracy, distance_r2, distance_r2_validation) = probe_layer(&xf, &xt, &fit, &test, per_level);
        let (goal_accuracy_untrained, distance_r2_untrained, _) = probe_layer(&uf, &ut, &fit, &test, per_level);
        layers.push(ProbeLayer { name, features: xf.ncols(), goal_accuracy, goal_accuracy_untrained, distance_r2, distance_r2_validation, distance_r2_untrained });
    }
    Ok(Some(Probes { layers, fit_levels: fit_levels.len(), test_levels: test_levels.len(), states_per_level: per_level }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_levels_never_repeat_a_fit_level_in_the_test_set() {
        use mesascope_tasks::{Diversity, FamilySpec, GoalPlacement, MazeParams};
        // 7×7 mazes have few distinct layouts: two independent draws shared ~1 in 4 levels.
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 7, goal: GoalPlacement::TopRight(3), ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
        let (fit, test) = probe_level_sets(&dist, 160, 3).unwrap();
        assert_eq!((fit.len(), test.len()), (160, 80));
        let fit_ids: std::collections::HashSet<u64> = fit.iter().map(Level::fingerprint).collect();
        assert!(test.iter().all(|l| !fit_ids.contains(&l.fingerprint())));
    }

    #[test]
    fn the_best_layer_is_chosen_on_validation_data_not_on_the_test_set() {
        let e = |m: f64| Estimate { mean: m, lo: m, hi: m, n: 80 };
        let layer = |name: &str, test: f64, validation: f64| ProbeLayer {
            name: name.into(),
            features: 1,
            goal_accuracy: e(0.5),
            goal_accuracy_untrained: e(0.5),
            distance_r2: e(test),
            distance_r2_validation: validation,
            distance_r2_untrained: e(0.1),
        };
        let p = Probes { layers: vec![layer("lucky on test", 0.9, 0.2), layer("good", 0.6, 0.6)], fit_levels: 160, test_levels: 80, states_per_level: 4 };
        assert_eq!(p.best().unwrap().name, "good");
    }

    #[test]
    fn ridge_recovers_a_linear_map_and_shrinks_with_lambda() {
        // y = 2·x0 − x1 + 3, fewer samples than features (the dual form's case).
        let n = 30;
        let f = 50;
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let x = DMatrix::from_fn(n, f, |_, _| rng.random_range(-1.0..1.0));
        let y = DMatrix::from_fn(n, 1, |i, _| 2.0 * x[(i, 0)] - x[(i, 1)] + 3.0);
        let fitted = ridge(&x, &y, &x, 1e-6);
        assert!((&fitted - &y).abs().max() < 1e-3, "interpolates its fit data");
        // Heavy shrinkage predicts the mean.
        let shrunk = ridge(&x, &y, &x, 1e6);
        let mean = y.mean();
        assert!(shrunk.iter().all(|p| (p - mean).abs() < 0.05));
    }
}
