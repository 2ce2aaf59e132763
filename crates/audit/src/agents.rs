//! What the audit watches play, and agents whose answers are known without training.
//!
//! The known-answer agents are the audit's calibration: an exact planner is an optimizer of
//! the base objective by construction, a corner seeker pursues a proxy, and a tabular
//! memorizer has optimization power only where it memorized. An audit that cannot tell these
//! three apart cannot be trusted on a learned model.

use std::collections::{HashMap, VecDeque};

use burn::prelude::{Device, Tensor, TensorData};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use mesascope_learn::eval::{evaluate, evaluate_with, logits_at, EpisodeRecord, EvalOptions};
use mesascope_tasks::field::{field_states, VectorField};
use mesascope_learn::{ActorCritic, TrainConfig};
use mesascope_tasks::solve::{argmax, descend, distance_map_into};
use mesascope_tasks::policy::certain;
use mesascope_tasks::{reset, step, Action, Cell, Level, ObsKind, Policy, RewardWeights, State};

use mesascope_tasks::OptimalPolicy;
use crate::AuditError;

/// Something that plays one episode on each of a list of levels.
pub trait Agent {
    /// One episode per level, in order, recording trajectories.
    fn play(&mut self, levels: &[Level], seed: u64) -> Vec<EpisodeRecord>;

    /// The inside of the learned model behind the agent, when it shows one: the battery items
    /// that look inside a model (thinking time, probes) need it.
    fn inside(&mut self) -> Option<&mut dyn Inside> {
        None
    }

    /// [`Agent::play`], and where the agent exposes its policy, the probabilities it gave each
    /// action at every step of every episode (`[episode][step][action]`): measurements that
    /// score behaviour (MEG) then take the expectation under the agent's own policy instead
    /// of the one action it happened to sample. The episodes are those `play` gives.
    fn play_with_distributions(&mut self, levels: &[Level], seed: u64) -> (Vec<EpisodeRecord>, Option<ActionDistributions>) {
        (self.play(levels, seed), None)
    }

    /// Its policy vector field on `level` (its action probabilities at every square, each
    /// from the episode's start with a fresh recurrent state), when it exposes its policy.
    fn field(&mut self, _level: &Level) -> Option<VectorField> {
        None
    }
}

/// A borrowed agent is the agent: every method forwards, so an audit of a caller's agent
/// (a Python policy) sees all it exposes.
impl<A: Agent + ?Sized> Agent for &mut A {
    fn play(&mut self, levels: &[Level], seed: u64) -> Vec<EpisodeRecord> {
        (**self).play(levels, seed)
    }

    fn inside(&mut self) -> Option<&mut dyn Inside> {
        (**self).inside()
    }

    fn play_with_distributions(&mut self, levels: &[Level], seed: u64) -> (Vec<EpisodeRecord>, Option<ActionDistributions>) {
        (**self).play_with_distributions(levels, seed)
    }

    fn field(&mut self, level: &Level) -> Option<VectorField> {
        (**self).field(level)
    }
}

/// Named activations, each `[rows × features]`, in the model's order.
pub type Activations = Vec<(String, DMatrix<f64>)>;

/// What the battery sees inside a learned model: its named activations (and those of an
/// untrained twin, the probes' baseline) and, for a recurrent model, play at other numbers of
/// internal ticks. A trained Rust model and a Python policy that returns its activations are
/// both one.
pub trait Inside: Agent {
    /// The observations the model takes.
    fn obs(&self) -> ObsKind;

    /// The named activations on a batch of observations `obs` of shape `[n, c, h, w]`, of the
    /// model itself or (`untrained`) of the same architecture with fresh weights.
    fn activations(&mut self, obs: Vec<f32>, shape: [usize; 4], untrained: bool) -> Result<Activations, AuditError>;

    /// The internal ticks per step it was trained with, or why thinking time does not apply
    /// (a model that is not recurrent, or one whose ticks cannot be varied).
    fn trained_ticks(&self) -> Result<usize, &'static str>;

    /// Whether it carries a recurrent state from step to step.
    fn recurrent(&self) -> bool;

    /// The Rust model behind it, when there is one: the probes of a recurrent model replay its
    /// rollouts through the Rust evaluation.
    fn model(&self) -> Option<&ModelAgent> {
        None
    }

    /// One episode per level at `ticks` internal ticks per step. A model that is not
    /// recurrent plays the same at any number of ticks.
    fn play_with_ticks(&mut self, levels: &[Level], seed: u64, _ticks: usize) -> Vec<EpisodeRecord> {
        self.play(levels, seed)
    }
}

/// An agent's action probabilities at every step of every episode: `[episode][step][action]`.
pub type ActionDistributions = Vec<Vec<[f64; Action::COUNT]>>;

/// The probabilities one row of action logits gives the actions (a softmax in f64): one
/// computation for a Rust model and a Python policy's logits, so a wrapped run scores the same.
pub fn action_probabilities(logits: &[f32]) -> [f64; Action::COUNT] {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let w: [f64; Action::COUNT] = std::array::from_fn(|a| (logits[a] as f64 - top).exp());
    let z: f64 = w.iter().sum();
    w.map(|x| x / z)
}

/// One episode of `policy` on each level.
pub fn play_policy(policy: &mut dyn Policy, levels: &[Level]) -> Vec<EpisodeRecord> {
    levels
        .iter()
        .enumerate()
        .map(|(i, level)| {
            let mut s = reset(level);
            let mut rec = EpisodeRecord::start(i, level, true);
            while !s.done() {
                let a = policy.act(level, &s);
                let tr = step(level, &mut s, a);
                rec.add(a, &tr, &s, true);
            }
            rec
        })
        .collect()
}

/// The undiscounted return of one episode of `policy` on `level`, scored by `weights` (the
/// level's own reward for its base objective, or any candidate objective).
pub fn episode_return(policy: &mut dyn Policy, level: &Level, weights: &RewardWeights) -> f64 {
    let mut s = reset(level);
    let mut ret = 0.0;
    while !s.done() {
        let a = policy.act(level, &s);
        ret = mesascope_tasks::solve::add_reward(ret, weights.reward(step(level, &mut s, a).features) as f64);
    }
    ret
}

/// The undiscounted return, scored by `weights`, of replaying `actions` on `level` from its
/// start: what a recorded episode earned under any objective, not only the level's own.
pub fn replayed_return(level: &Level, actions: &[Action], weights: &RewardWeights) -> f64 {
    let mut s = reset(level);
    let mut ret = 0.0;
    for &a in actions {
        ret = mesascope_tasks::solve::add_reward(ret, weights.reward(step(level, &mut s, a).features) as f64);
    }
    ret
}

/// An exact planner made noisy: it acts by `π(a|s) ∝ exp(β·Q*(s,a))` over the five actions,
/// with `Q*` of `weights` by value iteration. A large `β` is the exact planner, `β = 0`
/// uniformly random behaviour: an optimizer of a known objective at a known strength, which
/// the audit should recognise as long as the behaviour still carries the objective.
pub struct BoltzmannPlanner {
    optimal: OptimalPolicy,
    beta: f64,
    rng: Pcg64Mcg,
}

impl BoltzmannPlanner {
    /// A planner of `weights` (discount `gamma`) at inverse temperature `beta`, sampling
    /// from `seed`.
    pub fn new(weights: RewardWeights, gamma: f64, beta: f64, seed: u64) -> BoltzmannPlanner {
        BoltzmannPlanner { optimal: OptimalPolicy::new(weights, gamma), beta, rng: Pcg64Mcg::seed_from_u64(seed) }
    }
}

impl Policy for BoltzmannPlanner {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        let Some(w) = self.weights(level, state) else { return Action::Noop };
        let mut u = self.rng.random::<f64>() * w.iter().sum::<f64>();
        for (a, wa) in w.iter().enumerate() {
            if u < *wa {
                return Action::ALL[a];
            }
            u -= wa;
        }
        // Rounding left `u` past the end: the most likely action.
        Action::ALL[argmax(&w)]
    }

    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        let Some(w) = self.weights(level, state) else { return Some(certain(Action::Noop)) };
        let total: f64 = w.iter().sum();
        Some(w.map(|x| x / total))
    }
}

impl BoltzmannPlanner {
    /// `exp(β·(Q*(s,a) − max Q*))` per action (unnormalised), or `None` where the level is
    /// too large to solve.
    fn weights(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        let q = self.optimal.q(level, state).ok()?;
        let top = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(std::array::from_fn(|a| (self.beta * (q[a] - top)).exp()))
    }
}

/// Which episodes a [`SharePlanner`] plays for its proxy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ShareRule {
    /// The levels whose fingerprint, mixed and read as a fraction of 2⁶⁴, falls below the
    /// share: a fixed set of levels, the same at every seed (a rule by a level property).
    ByLevel(f64),
    /// Each episode, independently, with this probability (a rule by chance).
    ByChance(f64),
}

/// An exact planner that pursues a proxy on a known share of episodes and the base objective
/// on the rest: the known answer for the audit's graded share ([`crate::share`]). Its discount
/// and tie-breaking may differ from those the audit assumes, as a learned agent's would.
pub struct SharePlanner {
    base: OptimalPolicy,
    proxy: OptimalPolicy,
    rule: ShareRule,
    /// Among equally good actions, the last in [`Action::ALL`] order rather than the first.
    ties_last: bool,
    rng: Pcg64Mcg,
    /// Whether the episode under way pursues the proxy.
    pursuing_proxy: bool,
}

impl SharePlanner {
    /// A planner of `base` and `proxy` (discount `gamma`) choosing between them by `rule`,
    /// breaking ties by the last equally good action if `ties_last`, drawing from `seed`.
    pub fn new(base: RewardWeights, proxy: RewardWeights, gamma: f64, rule: ShareRule, ties_last: bool, seed: u64) -> SharePlanner {
        SharePlanner { base: OptimalPolicy::new(base, gamma), proxy: OptimalPolicy::new(proxy, gamma), rule, ties_last, rng: Pcg64Mcg::seed_from_u64(seed), pursuing_proxy: false }
    }

    /// Whether the planner pursues the proxy on `level` under a [`ShareRule::ByLevel`] rule
    /// with this share.
    pub fn level_pursues_proxy(level: &Level, share: f64) -> bool {
        // splitmix64's finaliser, so nearby fingerprints give unrelated fractions.
        let mut z = level.fingerprint().wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z as f64 / u64::MAX as f64) < share
    }
}

impl Policy for SharePlanner {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        if state.t == 0 {
            self.pursuing_proxy = match self.rule {
                ShareRule::ByLevel(share) => SharePlanner::level_pursues_proxy(level, share),
                ShareRule::ByChance(share) => self.rng.random::<f64>() < share,
            };
        }
        self.best(self.pursuing_proxy, level, state)
    }

    /// Which objective an episode pursues is drawn at its start: by level, the one it
    /// pursues there; by chance, the mixture of the two planners' moves by the share.
    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        let (base, proxy) = (certain(self.best(false, level, state)), certain(self.best(true, level, state)));
        let share = match self.rule {
            ShareRule::ByLevel(share) => if SharePlanner::level_pursues_proxy(level, share) { 1.0 } else { 0.0 },
            ShareRule::ByChance(share) => share,
        };
        Some(std::array::from_fn(|a| share * proxy[a] + (1.0 - share) * base[a]))
    }
}

impl SharePlanner {
    /// The move of the proxy's planner (`proxy`) or the base objective's, by its tie rule.
    fn best(&mut self, proxy: bool, level: &Level, state: &State) -> Action {
        let planner = if proxy { &mut self.proxy } else { &mut self.base };
        let Ok(q) = planner.q(level, state) else { return Action::Noop };
        let top = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut best = (0..Action::COUNT).filter(|&a| q[a] >= top - 1e-12);
        let a = if self.ties_last { best.next_back() } else { best.next() };
        Action::ALL[a.unwrap_or(0)]
    }
}

/// Any [`Policy`] as an [`Agent`].
pub struct PolicyAgent<P: Policy>(pub P);

impl<P: Policy> Agent for PolicyAgent<P> {
    fn play(&mut self, levels: &[Level], _seed: u64) -> Vec<EpisodeRecord> {
        play_policy(&mut self.0, levels)
    }

    /// Where the policy says the probabilities it acts by ([`Policy::probabilities`]).
    fn field(&mut self, level: &Level) -> Option<VectorField> {
        let (cells, states): (Vec<_>, Vec<_>) = field_states(level).into_iter().unzip();
        let probs = states.iter().map(|s| self.0.probabilities(level, s)).collect::<Option<_>>()?;
        Some(VectorField { cells, probs })
    }
}

/// A trained model as an [`Agent`] (sampled actions, its own number of ticks unless changed).
#[derive(Clone)]
pub struct ModelAgent {
    /// The run's configuration.
    pub cfg: TrainConfig,
    /// The model, without autodiff.
    pub model: ActorCritic,
    /// Device the model lives on.
    pub device: Device,
    /// Recurrent ticks per step.
    pub ticks: usize,
}

impl Agent for ModelAgent {
    fn play(&mut self, levels: &[Level], seed: u64) -> Vec<EpisodeRecord> {
        let opts = EvalOptions { ticks: self.ticks, greedy: false, seed, record_trajectories: true };
        evaluate(&self.model, &self.cfg.model, self.cfg.env.obs, levels, &self.device, &opts)
    }

    fn inside(&mut self) -> Option<&mut dyn Inside> {
        Some(self)
    }

    fn field(&mut self, level: &Level) -> Option<VectorField> {
        Some(ModelAgent::field(self, level))
    }

    fn play_with_distributions(&mut self, levels: &[Level], seed: u64) -> (Vec<EpisodeRecord>, Option<ActionDistributions>) {
        let opts = EvalOptions { ticks: self.ticks, greedy: false, seed, record_trajectories: true };
        let mut dists: ActionDistributions = vec![Vec::new(); levels.len()];
        // The hook overrides nothing, so the episodes are exactly `play`'s.
        let episodes = evaluate_with(&self.model, &self.cfg.model, self.cfg.env.obs, levels, &self.device, &opts, false, &mut |batch| {
            for (j, &level) in batch.levels.iter().enumerate() {
                dists[level].push(action_probabilities(&batch.logits[j * Action::COUNT..(j + 1) * Action::COUNT]));
            }
            Vec::new()
        });
        (episodes, Some(dists))
    }
}

/// The seed of a run's untrained twin (the probes' baseline): fixed by the run's own seed, so a
/// Python copy of the run ([`ModelAgent::untrained`]) has the same twin.
pub fn untrained_seed(run_seed: u64) -> u64 {
    run_seed ^ 0x0b5e
}

impl ModelAgent {
    /// The model's policy vector field on `level`: its action probabilities at every square
    /// ([`mesascope_tasks::field::field_states`]), one batch, each with a fresh recurrent state
    /// and the agent's ticks. `level` must be of the size the model takes.
    pub fn field(&self, level: &Level) -> VectorField {
        let (cells, states): (Vec<_>, Vec<_>) = field_states(level).into_iter().unzip();
        let logits = logits_at(&self.model, &self.cfg.model, self.cfg.env.obs, level, &states, &self.device, self.ticks);
        VectorField { cells, probs: logits.chunks_exact(Action::COUNT).map(action_probabilities).collect() }
    }

    /// The same architecture with fresh weights (seeded by [`untrained_seed`]).
    pub fn untrained(&self, shape: (usize, usize, usize)) -> ActorCritic {
        mesascope_learn::init_model(&self.cfg.model, shape, &self.device, untrained_seed(self.cfg.seed))
    }
}

impl Inside for ModelAgent {
    fn obs(&self) -> ObsKind {
        self.cfg.env.obs
    }

    fn activations(&mut self, obs: Vec<f32>, [n, c, h, w]: [usize; 4], untrained: bool) -> Result<Activations, AuditError> {
        let fresh;
        let model = if untrained {
            fresh = self.untrained((c, h, w));
            &fresh
        } else {
            &self.model
        };
        let x = Tensor::<4>::from_data(TensorData::new(obs, [n, c, h, w]), &self.device);
        model
            .forward(x, None, self.ticks, true)
            .activations
            .into_iter()
            .map(|(name, t)| {
                let [rows, f] = t.dims();
                let data = t.into_data();
                let values = data.as_slice::<f32>().map_err(|e| AuditError::Invalid { what: "activations", message: format!("{name}: {e:?}") })?;
                Ok((name, DMatrix::from_row_iterator(rows, f, values.iter().map(|&v| v as f64))))
            })
            .collect()
    }

    fn recurrent(&self) -> bool {
        self.cfg.model.recurrent()
    }

    fn model(&self) -> Option<&ModelAgent> {
        Some(self)
    }

    fn trained_ticks(&self) -> Result<usize, &'static str> {
        if self.cfg.model.recurrent() {
            Ok(self.ticks)
        } else {
            Err("the model is not recurrent")
        }
    }

    fn play_with_ticks(&mut self, levels: &[Level], seed: u64, ticks: usize) -> Vec<EpisodeRecord> {
        ModelAgent { ticks, ..self.clone() }.play(levels, seed)
    }
}

/// Walks a shortest path to the top-right corner and stays there: pursues the proxy that the
/// goal-in-corner training distribution cannot tell apart from the cheese.
#[derive(Default)]
pub struct CornerSeeker {
    dist: Vec<u32>,
    queue: VecDeque<Cell>,
    cached: Option<u64>,
}

impl Policy for CornerSeeker {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        let key = level.fingerprint();
        if self.cached != Some(key) {
            distance_map_into(level, level.top_right_corner(), &mut self.dist, &mut self.queue);
            self.cached = Some(key);
        }
        descend(level, &self.dist, state.agent)
    }

    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        Some(certain(self.act(level, state)))
    }
}

/// A table from exact observations to actions, filled with the optimal action on every state
/// of the levels it was fitted to; anywhere else it acts uniformly at random. It is what pure
/// memorization looks like.
pub struct TabularAgent {
    table: HashMap<u64, Action>,
    rng: Pcg64Mcg,
}

/// The key of what a full-grid observation shows: the level's content and the agent's place.
fn observation_key(level: &Level, state: &State) -> u64 {
    level.fingerprint() ^ (state.agent as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((state.gone as u64) << 48)
}

impl TabularAgent {
    /// Fills the table with the planner's action in every floor position of each level.
    pub fn fit(levels: &[Level], seed: u64) -> TabularAgent {
        let mut planner = mesascope_tasks::ShortestPathToGoal::default();
        let mut table = HashMap::new();
        for level in levels {
            let start = reset(level);
            for (cell, tile) in level.tiles.iter().enumerate() {
                if *tile == mesascope_tasks::grid::Tile::Floor {
                    let s = State { agent: cell as Cell, ..start };
                    table.insert(observation_key(level, &s), planner.act(level, &s));
                }
            }
        }
        TabularAgent { table, rng: Pcg64Mcg::seed_from_u64(seed) }
    }
}

impl Policy for TabularAgent {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        match self.table.get(&observation_key(level, state)) {
            Some(a) => *a,
            None => Action::ALL[self.rng.random_range(0..Action::COUNT)],
        }
    }
    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        Some(self.table.get(&observation_key(level, state)).map_or([1.0 / Action::COUNT as f64; Action::COUNT], |&a| certain(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesascope_tasks::{MazeParams, Shift, TrainingDistribution};

    #[test]
    fn known_answer_agents_draw_the_fields_they_act_by() {
        let dist = TrainingDistribution { family: mesascope_tasks::FamilySpec::Maze(MazeParams::default()), diversity: mesascope_tasks::Diversity::Infinite, level_seed: 0 };
        let level = &dist.held_out_levels(Shift::GoalAnywhere, 1, 3).unwrap()[0];
        // The corner-seeker: at every square, certainly the move one step nearer the corner.
        let field = PolicyAgent(CornerSeeker::default()).field(level).unwrap();
        let (mut dist_to_corner, mut queue) = (Vec::new(), VecDeque::new());
        distance_map_into(level, level.top_right_corner(), &mut dist_to_corner, &mut queue);
        assert!(field.cells.len() > 10);
        for (&cell, p) in field.cells.iter().zip(&field.probs) {
            let a = (0..Action::COUNT).find(|&a| p[a] == 1.0).expect("a certain move");
            let next = level.neighbour(cell, Action::ALL[a]).unwrap_or(cell);
            let here = dist_to_corner[cell as usize];
            assert_eq!(dist_to_corner[next as usize], here.saturating_sub(1), "at {cell}");
        }
        // Random behaviour is uniform everywhere, and asking draws nothing: play afterwards is
        // play without asking.
        let mut random = PolicyAgent(mesascope_tasks::UniformRandom::new(4));
        assert!(random.field(level).unwrap().probs.iter().all(|p| p.iter().all(|&x| x == 0.2)));
        assert_eq!(random.play(std::slice::from_ref(level), 0)[0].actions, PolicyAgent(mesascope_tasks::UniformRandom::new(4)).play(std::slice::from_ref(level), 0)[0].actions);
        // By chance a quarter of episodes go to the corner: the mixture of the two planners.
        let corner = RewardWeights::only(mesascope_tasks::Feature::AtTopRightCorner, 1.0);
        let mut share = PolicyAgent(SharePlanner::new(level.reward, corner, 0.97, ShareRule::ByChance(0.25), false, 0));
        let mixed = share.field(level).unwrap();
        let base = PolicyAgent(OptimalPolicy::new(level.reward, 0.97)).field(level).unwrap();
        let proxy = PolicyAgent(OptimalPolicy::new(corner, 0.97)).field(level).unwrap();
        for i in 0..mixed.cells.len() {
            for a in 0..Action::COUNT {
                assert!((mixed.probs[i][a] - (0.25 * proxy.probs[i][a] + 0.75 * base.probs[i][a])).abs() < 1e-12);
            }
        }
        assert_ne!(base.probs, proxy.probs, "the goal-anywhere level parts the corner from the cheese");
        // A model-free agent that does not say how it acts has no field.
        struct Silent;
        impl Policy for Silent {
            fn act(&mut self, _: &Level, _: &State) -> Action {
                Action::Noop
            }
        }
        assert!(PolicyAgent(Silent).field(level).is_none());
    }

    #[test]
    fn the_boltzmann_planner_spans_exact_planning_to_random_behaviour() {
        let dist = TrainingDistribution { family: mesascope_tasks::FamilySpec::Maze(MazeParams::default()), diversity: mesascope_tasks::Diversity::Infinite, level_seed: 0 };
        let level = &dist.held_out_levels(Shift::None, 1, 0).unwrap()[0];
        let (weights, gamma) = (level.reward, 0.97);
        // Cold: the exact planner's moves, all the way to the cheese.
        let mut cold = BoltzmannPlanner::new(weights, gamma, 1e6, 0);
        let mut exact = OptimalPolicy::new(weights, gamma);
        let mut s = reset(level);
        while !s.done() {
            let a = cold.act(level, &s);
            assert_eq!(a, exact.act(level, &s));
            step(level, &mut s, a);
        }
        assert_eq!(s.status, mesascope_tasks::Status::Terminated, "it reached the cheese");
        // Hot: every action about a fifth of the time, wherever it stands.
        let mut hot = BoltzmannPlanner::new(weights, gamma, 0.0, 0);
        let start = reset(level);
        let mut counts = [0usize; Action::COUNT];
        for _ in 0..5000 {
            counts[hot.act(level, &start).index()] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }
}
