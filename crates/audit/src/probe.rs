//! Linear probes (DESIGN.md battery item 5): can the goal's position and the whole
//! distance-to-goal map be read linearly off a model's named activations? A model that plans
//! towards a goal it finds at runtime has reason to represent both; the same probe on an
//! untrained model of the same architecture is the baseline that random features already
//! reach. Probes are ridge regressions fitted on states of some held-out levels and scored on
//! states of others: goal position as a ridge classifier over cells (accuracy), the distance
//! map as multi-output ridge regression (R² over floor cells against the per-cell mean map).
//!
//! Which states are probed depends on the model. A feed-forward model's activations are a
//! function of the observation alone, so the agent is placed on random floor cells. A
//! recurrent model's depend on what it has seen, and a zero hidden state is one it never has
//! after its first step: its probes read steps of its own rollouts, with the hidden state it
//! carried there (and the untrained baseline replays the same actions, carrying its own).

use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use mesascope_learn::eval::{evaluate_with, EvalOptions};
use mesascope_learn::ActorCritic;
use mesascope_tasks::grid::Tile;
use mesascope_tasks::solve::distance_map;
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{reset, Action, Level, Shift, State, TrainingDistribution};

use crate::agents::{Activations, Inside, ModelAgent};
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
    /// For states drawn from rollouts, the step of the episode; 0 for placed states.
    steps: Vec<usize>,
    goal: Vec<usize>,
    distance: Vec<Vec<f64>>,
    floor: Vec<Vec<bool>>,
}

/// The distance-to-goal map of `level` (scaled by the grid's area so targets are O(1) on any
/// size; 0 off the floor) and its floor mask.
fn targets(level: &Level, goal: u16) -> (Vec<f64>, Vec<bool>) {
    let dist = distance_map(level, goal);
    let floor: Vec<bool> = level.tiles.iter().map(|&t| t == Tile::Floor).collect();
    let scale = level.tiles.len() as f64;
    let target = dist.iter().zip(&floor).map(|(&d, &f)| if f && d != u32::MAX { d as f64 / scale } else { 0.0 }).collect();
    (target, floor)
}

/// The agent placed on `per_level` random floor cells of each level (feed-forward models).
fn samples(levels: &[Level], per_level: usize, rng: &mut Pcg64Mcg) -> Samples {
    let mut out = Samples { states: Vec::new(), steps: Vec::new(), goal: Vec::new(), distance: Vec::new(), floor: Vec::new() };
    for (i, level) in levels.iter().enumerate() {
        let Some(goal) = level.goal_cell() else { continue };
        let (target, floor) = targets(level, goal);
        let dist = distance_map(level, goal);
        let cells: Vec<usize> = (0..level.tiles.len()).filter(|&c| floor[c] && c != goal as usize && dist[c] != u32::MAX).collect();
        for _ in 0..per_level {
            let cell = cells[rng.random_range(0..cells.len())];
            out.states.push((i, State { agent: cell as u16, ..reset(level) }));
            out.steps.push(0);
            out.goal.push(goal as usize);
            out.distance.push(target.clone());
            out.floor.push(floor.clone());
        }
    }
    out
}

/// One drawn step of a rollout: the step's index in its episode, the state before it, and the
/// model's activations there, one row per named activation.
#[derive(Clone)]
struct Draw {
    step: usize,
    state: State,
    rows: Vec<Vec<f32>>,
}

/// Probe samples from rollouts of a recurrent `agent` on `levels`: `per_level` steps of each
/// episode, each drawn uniformly (with replacement) as the episode runs, with the trained
/// model's activations there, and `untrained`'s at the same steps when it replays the same
/// actions — each model carrying its own hidden state from its own forward passes. Returns
/// the samples, then each model's activations as `[samples × features]` per name.
#[allow(clippy::type_complexity)]
fn rollout_samples(agent: &ModelAgent, untrained: &ActorCritic, levels: &[Level], per_level: usize, rng: &mut Pcg64Mcg) -> (Samples, Vec<(String, DMatrix<f64>)>, Vec<(String, DMatrix<f64>)>) {
    let opts = EvalOptions { ticks: agent.ticks, greedy: false, seed: rng.random(), record_trajectories: false };
    let (obs, cfg) = (agent.cfg.env.obs, &agent.cfg.model);
    // Every episode's actions, and its draws: `per_level` independent reservoirs of size one
    // (the step t-th seen replaces a draw with probability 1/t), so each is uniform over the
    // episode's steps however long it runs.
    let mut actions: Vec<Vec<Action>> = vec![Vec::new(); levels.len()];
    let mut draws: Vec<Vec<Option<Draw>>> = vec![vec![None; per_level]; levels.len()];
    let mut names = Vec::new();
    evaluate_with(&agent.model, cfg, obs, levels, &agent.device, &opts, true, &mut |b| {
        names = b.activations.iter().map(|(n, _)| n.clone()).collect();
        for (j, &l) in b.levels.iter().enumerate() {
            let t = actions[l].len();
            for slot in draws[l].iter_mut() {
                if rng.random_range(0..=t) == 0 {
                    *slot = Some(Draw { step: t, state: b.states[j], rows: row_of(b.activations, b.levels.len(), j) });
                }
            }
            actions[l].push(b.actions[j]);
        }
        Vec::new()
    });
    // The untrained model along the same trajectories: its actions are replaced by the
    // trained agent's, step by step.
    let mut fresh: Vec<Vec<Option<Vec<Vec<f32>>>>> = vec![vec![None; per_level]; levels.len()];
    let mut replayed = vec![0usize; levels.len()];
    evaluate_with(untrained, cfg, obs, levels, &agent.device, &opts, true, &mut |b| {
        b.levels
            .iter()
            .enumerate()
            .map(|(j, &l)| {
                let t = replayed[l];
                replayed[l] += 1;
                for (slot, draw) in fresh[l].iter_mut().zip(&draws[l]) {
                    if draw.as_ref().is_some_and(|d| d.step == t) {
                        *slot = Some(row_of(b.activations, b.levels.len(), j));
                    }
                }
                actions[l].get(t).copied()
            })
            .collect()
    });
    let mut out = Samples { states: Vec::new(), goal: Vec::new(), distance: Vec::new(), floor: Vec::new(), steps: Vec::new() };
    let (mut trained_rows, mut fresh_rows) = (Vec::new(), Vec::new());
    for (i, level) in levels.iter().enumerate() {
        let Some(goal) = level.goal_cell() else { continue };
        let (target, floor) = targets(level, goal);
        for (draw, fresh) in draws[i].iter().zip(&fresh[i]) {
            let (Some(d), Some(f)) = (draw, fresh) else { continue };
            out.states.push((i, d.state));
            out.steps.push(d.step);
            out.goal.push(goal as usize);
            out.distance.push(target.clone());
            out.floor.push(floor.clone());
            trained_rows.push(d.rows.clone());
            fresh_rows.push(f.clone());
        }
    }
    let matrices = |rows: &[Vec<Vec<f32>>]| -> Vec<(String, DMatrix<f64>)> {
        names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let width = rows.first().map_or(0, |r| r[k].len());
                (name.clone(), DMatrix::from_fn(rows.len(), width, |i, c| rows[i][k][c] as f64))
            })
            .collect()
    };
    let (trained, untrained) = (matrices(&trained_rows), matrices(&fresh_rows));
    (out, trained, untrained)
}

/// Row `j` of each of a batch's named activations (`[n × F]` each, `n` rows).
fn row_of(activations: &[(String, Vec<f32>)], n: usize, j: usize) -> Vec<Vec<f32>> {
    activations
        .iter()
        .map(|(_, flat)| {
            let width = flat.len() / n;
            flat[j * width..(j + 1) * width].to_vec()
        })
        .collect()
}

/// Each named activation of the model (or of its untrained twin) on the placed states, as
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

/// The placed-state probes' activations of `model` and its untrained twin on the fit and test
/// samples, each pair `(fit, test)` per name; `None` when the model names no activations.
#[allow(clippy::type_complexity)]
fn placed_activations(model: &mut dyn Inside, fit_levels: &[Level], test_levels: &[Level], fit: &Samples, test: &Samples) -> Result<Option<(Vec<((String, DMatrix<f64>), (String, DMatrix<f64>))>, Vec<((String, DMatrix<f64>), (String, DMatrix<f64>))>)>, AuditError> {
    let trained_fit = activations(model, false, fit_levels, fit)?;
    if trained_fit.is_empty() {
        return Ok(None);
    }
    let trained_test = activations(model, false, test_levels, test)?;
    let (fresh_fit, fresh_test) = (activations(model, true, fit_levels, fit)?, activations(model, true, test_levels, test)?);
    let names = |a: &Activations| a.iter().map(|(n, m)| (n.clone(), m.ncols())).collect::<Vec<_>>();
    for (what, other) in [("on the test levels", &trained_test), ("of the untrained twin", &fresh_fit), ("of the untrained twin on the test levels", &fresh_test)] {
        if names(other) != names(&trained_fit) {
            return Err(AuditError::Invalid { what: "activations", message: format!("the activations {what} are {:?}, not {:?} (name, width) as on the fit levels", names(other), names(&trained_fit)) });
        }
    }
    Ok(Some((trained_fit.into_iter().zip(trained_test).collect(), fresh_fit.into_iter().zip(fresh_test).collect())))
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
/// fresh weights), fitted on `fit_levels` and scored on `test_levels`: a recurrent Rust model
/// on steps of its own rollouts, any other model on placed states. `None` when the model names
/// no activations.
pub fn probes(model: &mut dyn Inside, fit_levels: &[Level], test_levels: &[Level], per_level: usize, seed: u64) -> Result<Option<Probes>, AuditError> {
    if fit_levels.len() < 4 || test_levels.is_empty() || per_level == 0 {
        return Err(AuditError::Invalid { what: "probe levels", message: "probes need at least 4 fit levels, 1 test level and 1 state per level".into() });
    }
    // Checked before the model runs: a level without a goal object gives no samples, and an
    // empty batch is not the model's to handle.
    if fit_levels.iter().chain(test_levels).any(|l| l.goal_cell().is_none()) {
        return Err(AuditError::Invalid { what: "probe levels", message: "every probe level needs a goal object (the maze's cheese, the corridor's coin) to read out".into() });
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let (fit, test, trained, fresh) = match model.model().filter(|agent| agent.cfg.model.recurrent()) {
        Some(agent) => {
            let untrained = agent.untrained(agent.cfg.env.obs.shape(fit_levels[0].width, fit_levels[0].height));
            let (fit, trained_fit, fresh_fit) = rollout_samples(agent, &untrained, fit_levels, per_level, &mut rng);
            let (test, trained_test, fresh_test) = rollout_samples(agent, &untrained, test_levels, per_level, &mut rng);
            (fit, test, trained_fit.into_iter().zip(trained_test).collect::<Vec<_>>(), fresh_fit.into_iter().zip(fresh_test).collect::<Vec<_>>())
        }
        None => {
            let fit = samples(fit_levels, per_level, &mut rng);
            let test = samples(test_levels, per_level, &mut rng);
            let Some((trained, fresh)) = placed_activations(model, fit_levels, test_levels, &fit, &test)? else { return Ok(None) };
            (fit, test, trained, fresh)
        }
    };
    if fit.goal.len() != fit_levels.len() * per_level || test.goal.len() != test_levels.len() * per_level {
        return Err(AuditError::Invalid { what: "probe levels", message: format!("{per_level} states per level were asked for and not every level gave them") });
    }
    let mut layers = Vec::new();
    for (((name, xf), (_, xt)), ((_, uf), (_, ut))) in trained.into_iter().zip(fresh) {
        let (goal_accuracy, distance_r2, distance_r2_validation) = probe_layer(&xf, &xt, &fit, &test, per_level);
        let (goal_accuracy_untrained, distance_r2_untrained, _) = probe_layer(&uf, &ut, &fit, &test, per_level);
        layers.push(ProbeLayer { name, features: xf.ncols(), goal_accuracy, goal_accuracy_untrained, distance_r2, distance_r2_validation, distance_r2_untrained });
    }
    Ok(Some(Probes { layers, fit_levels: fit_levels.len(), test_levels: test_levels.len(), states_per_level: per_level }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::{Tensor, TensorData};

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
    fn recurrent_probes_read_the_hidden_state_the_rollout_carried() {
        use mesascope_learn::TrainConfig;
        let o = ["model.kind=\"convgru\"", "model.hidden=16", "model.channels=4", "env.size=7"].map(String::from);
        let cfg = TrainConfig::from_toml_with("", &o).unwrap();
        let device = mesascope_learn::device("cpu").unwrap();
        let shape = cfg.env.obs.shape(7, 7);
        let agent = ModelAgent { model: mesascope_learn::init_model(&cfg.model, shape, &device, 1), ticks: cfg.model.ticks, cfg: cfg.clone(), device: device.clone() };
        let untrained = mesascope_learn::init_model(&cfg.model, shape, &device, 2);
        let levels = cfg.env.dist.held_out_levels(Shift::None, 3, 5).unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        // The rollouts' action seed is the first number `rollout_samples` draws.
        let seed: u64 = rng.clone().random();
        let (samples, trained, _) = rollout_samples(&agent, &untrained, &levels, 4, &mut rng);
        assert_eq!(samples.states.len(), 12);
        let episodes = mesascope_learn::eval::evaluate(&agent.model, &cfg.model, cfg.env.obs, &levels, &device, &EvalOptions { ticks: agent.ticks, greedy: false, seed, record_trajectories: true });
        let hidden = trained.iter().position(|(name, _)| name == "gru.hidden").expect("a gru.hidden activation");
        let forward = |state: &State, level: &Level, h: Option<Tensor<4>>| {
            let (c, hh, w) = shape;
            let mut buf = vec![0.0f32; c * hh * w];
            write_observation(cfg.env.obs, level, state, &mut buf);
            agent.model.forward(Tensor::<4>::from_data(TensorData::new(buf, [1, c, hh, w]), &device), h, agent.ticks, true)
        };
        let row = |out: &mesascope_learn::model::ForwardOutput| -> Vec<f64> { out.activations[hidden].1.clone().into_data().as_slice::<f32>().unwrap().iter().map(|&v| v as f64).collect() };
        let mut later_steps = 0;
        for (k, (&(i, state), &t)) in samples.states.iter().zip(&samples.steps).enumerate() {
            // Replay the episode up to the drawn step, carrying the hidden state.
            let mut s = reset(&levels[i]);
            let mut h = None;
            for &a in &episodes[i].actions[..t] {
                h = forward(&s, &levels[i], h).hidden;
                mesascope_tasks::step(&levels[i], &mut s, a);
            }
            assert_eq!(s, state, "sample {k} is the state at step {t} of its episode");
            let expected = row(&forward(&s, &levels[i], h));
            let probed: Vec<f64> = trained[hidden].1.row(k).iter().copied().collect();
            assert!(expected.iter().zip(&probed).all(|(a, b)| (a - b).abs() < 1e-5), "sample {k}, step {t}: the probed hidden state is the rollout's");
            if t > 0 {
                later_steps += 1;
                let zero = row(&forward(&s, &levels[i], None));
                assert!(zero.iter().zip(&probed).any(|(a, b)| (a - b).abs() > 1e-4), "sample {k}: a zero hidden state reads differently");
            }
        }
        assert!(later_steps > 0, "some draws come after the first step");
    }

    #[test]
    fn probes_on_levels_without_a_goal_object_are_refused_before_the_model_runs() {
        use mesascope_learn::TrainConfig;
        let o = ["env.family=\"keys-chests\"", "env.size=7", "model.kind=\"mlp\"", "model.hidden=8"].map(String::from);
        let cfg = TrainConfig::from_toml_with("", &o).unwrap();
        let device = mesascope_learn::device("cpu").unwrap();
        let (w, h) = cfg.env.dist.family.grid_size();
        let mut agent = ModelAgent { model: mesascope_learn::init_model(&cfg.model, cfg.env.obs.shape(w, h), &device, 1), ticks: cfg.model.ticks, cfg: cfg.clone(), device };
        let levels = cfg.env.dist.held_out_levels(Shift::None, 6, 5).unwrap();
        let err = probes(&mut agent, &levels[..4], &levels[4..], 2, 0).unwrap_err().to_string();
        assert!(err.contains("needs a goal object"), "{err}");
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
