//! Batched stepping: M environments stepped together into one contiguous observation buffer
//! of shape `[M, C, H, W]`, with same-step auto-reset and no allocation in the step loop.
//!
//! Full-grid observations are updated incrementally: a step rewrites only the tiles it may have
//! changed (the agent's old and new tile, a pushed box's new tile), which is what makes the
//! batched env fast. A reset rewrites the whole observation of that env.
//!
//! Auto-reset semantics (as in CleanRL/envpool): when an episode ends on a step, that step's
//! reward, `terminated` and `truncated` belong to the ended episode, its return and length are
//! reported in `episode_returns`/`episode_lengths`, and the observation is already the first
//! observation of the next episode. The ended episode's last observation stays available from
//! [`VecEnv::final_observation`] until the next step, so a learner can bootstrap a truncated
//! episode from the value of where it was cut off (Gymnasium's `final_observation`).

use std::str::FromStr;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::dist::{mix_seed, LevelGenerator, LevelSource};
use crate::error::TaskError;
use crate::grid::{object_at, reset, step, Action, Cell, Level, ObjectKind, RewardWeights, State, Tile, ALL_DIRTY};
use crate::maze::empty_level;

/// Names of the observation channels, in order.
pub const CHANNELS: [&str; 8] = ["wall", "lava", "agent", "cheese", "key", "chest", "coin", "box"];
/// Number of observation channels.
pub const NUM_CHANNELS: usize = CHANNELS.len();

/// What an agent sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ObsKind {
    /// One-hot channels over the whole grid: `[C, H, W]`.
    FullGrid,
    /// One-hot channels over the `view×view` window centred on the agent (`view` odd);
    /// tiles outside the grid read as wall.
    Partial {
        /// Side length of the window.
        view: u16,
    },
}

impl FromStr for ObsKind {
    type Err = TaskError;
    fn from_str(s: &str) -> Result<ObsKind, TaskError> {
        if s == "full" {
            return Ok(ObsKind::FullGrid);
        }
        match s.strip_prefix("partial-").map(str::parse::<u16>) {
            Some(Ok(v)) if v % 2 == 1 => Ok(ObsKind::Partial { view: v }),
            Some(Ok(v)) => Err(TaskError::invalid("obs", format!("partial view {v} must be odd so the agent is centred"))),
            _ => Err(TaskError::unknown("observation kind", s, &["full", "partial-V (V odd, e.g. partial-5)"])),
        }
    }
}

impl TryFrom<String> for ObsKind {
    type Error = TaskError;
    fn try_from(s: String) -> Result<ObsKind, TaskError> {
        s.parse()
    }
}

impl From<ObsKind> for String {
    fn from(k: ObsKind) -> String {
        match k {
            ObsKind::FullGrid => "full".into(),
            ObsKind::Partial { view } => format!("partial-{view}"),
        }
    }
}

impl ObsKind {
    /// `(C, H, W)` of one observation of a `width×height` grid.
    pub fn shape(self, width: u16, height: u16) -> (usize, usize, usize) {
        match self {
            ObsKind::FullGrid => (NUM_CHANNELS, height as usize, width as usize),
            ObsKind::Partial { view } => (NUM_CHANNELS, view as usize, view as usize),
        }
    }
}

/// An observation element type: `u8` (compact) or `f32` (ready for a network).
pub trait ObsScalar: Copy + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    /// The value of a channel that is on.
    const ONE: Self;
    /// The value of a channel that is off.
    const ZERO: Self;
}

impl ObsScalar for u8 {
    const ONE: u8 = 1;
    const ZERO: u8 = 0;
}

impl ObsScalar for f32 {
    const ONE: f32 = 1.0;
    const ZERO: f32 = 0.0;
}

/// The channel bits of one tile: bit `c` set means channel `c` is on.
#[inline]
pub fn tile_channels(level: &Level, state: &State, cell: Cell) -> u8 {
    let mut bits = match level.tile(cell) {
        Tile::Wall => 1 << 0,
        Tile::Lava => 1 << 1,
        Tile::Floor => 0,
    };
    if state.agent == cell {
        bits |= 1 << 2;
        if (state.keys > 0 || state.shields > 0) && level.rules.show_keys_held {
            bits |= 1 << 4;
        }
    }
    if let Some(i) = object_at(level, state, cell) {
        bits |= 1
            << match level.objects[i].kind {
                ObjectKind::Cheese => 3,
                ObjectKind::Key => 4,
                ObjectKind::Chest => 5,
                ObjectKind::Coin => 6,
                ObjectKind::Box => 7,
                // Monster-shield shows its objects on the planes of their nearest kin (see
                // `crate::monster_shield`): monsters as danger, shields as keys, apples as coins.
                ObjectKind::Monster => 1,
                ObjectKind::Shield => 4,
                ObjectKind::Apple => 6,
            };
    }
    bits
}

#[inline]
fn write_tile<T: ObsScalar>(obs: &mut [T], plane: usize, pos: usize, bits: u8) {
    for (c, chunk) in obs.chunks_exact_mut(plane).enumerate() {
        chunk[pos] = if bits & (1 << c) != 0 { T::ONE } else { T::ZERO };
    }
}

/// Writes the whole observation of `state` into `obs` (length `C·H·W` of `kind`'s shape).
pub fn write_observation<T: ObsScalar>(kind: ObsKind, level: &Level, state: &State, obs: &mut [T]) {
    match kind {
        ObsKind::FullGrid => {
            let plane = level.tiles.len();
            for cell in 0..plane {
                write_tile(obs, plane, cell, tile_channels(level, state, cell as Cell));
            }
        }
        ObsKind::Partial { view } => {
            let v = view as i32;
            let plane = (v * v) as usize;
            let (ax, ay) = level.xy(state.agent);
            let half = v / 2;
            for wy in 0..v {
                for wx in 0..v {
                    let x = ax as i32 + wx - half;
                    let y = ay as i32 + wy - half;
                    let bits = if x < 0 || y < 0 || x >= level.width as i32 || y >= level.height as i32 {
                        1
                    } else {
                        tile_channels(level, state, level.cell(x as u16, y as u16))
                    };
                    write_tile(obs, plane, (wy * v + wx) as usize, bits);
                }
            }
        }
    }
}

/// Everything needed to continue a [`VecEnv`] exactly where it was: each env's level, state,
/// random stream and running return. Observations are recomputed from these on restore.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VecEnvSnapshot {
    levels: Vec<Level>,
    states: Vec<State>,
    rngs: Vec<Pcg64Mcg>,
    running_returns: Vec<f32>,
}

/// M environments stepped together. See the module docs for the auto-reset semantics.
pub struct VecEnv<T: ObsScalar> {
    source: LevelSource,
    /// The reward paid instead of each level's own (base-objective) reward, if any.
    reward: Option<RewardWeights>,
    kind: ObsKind,
    shape: (usize, usize, usize),
    generator: LevelGenerator,
    levels: Vec<Level>,
    states: Vec<State>,
    rngs: Vec<Pcg64Mcg>,
    obs: Vec<T>,
    /// The last observation of each env whose episode ended on the last step (stale elsewhere).
    final_obs: Vec<T>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    catastrophes: Vec<bool>,
    successes: Vec<bool>,
    running_returns: Vec<f32>,
    episode_returns: Vec<f32>,
    episode_lengths: Vec<u32>,
}

impl<T: ObsScalar> VecEnv<T> {
    /// `num_envs` environments drawing levels from `source`, seeded from `seed`, already reset.
    pub fn new(source: LevelSource, num_envs: usize, kind: ObsKind, seed: u64) -> Result<VecEnv<T>, TaskError> {
        if num_envs == 0 {
            return Err(TaskError::invalid("num_envs", "a vector env needs at least one environment"));
        }
        if let ObsKind::Partial { view } = kind {
            if view % 2 == 0 || view == 0 {
                return Err(TaskError::invalid("obs", format!("partial view {view} must be odd")));
            }
        }
        let (w, h) = source.family().grid_size();
        let shape = kind.shape(w, h);
        let size = shape.0 * shape.1 * shape.2;
        let mut env = VecEnv {
            source,
            reward: None,
            kind,
            shape,
            generator: LevelGenerator::default(),
            levels: (0..num_envs).map(|_| empty_level()).collect(),
            states: Vec::with_capacity(num_envs),
            rngs: (0..num_envs as u64).map(|i| Pcg64Mcg::seed_from_u64(mix_seed(seed, i))).collect(),
            obs: vec![T::ZERO; num_envs * size],
            final_obs: vec![T::ZERO; num_envs * size],
            rewards: vec![0.0; num_envs],
            terminated: vec![false; num_envs],
            truncated: vec![false; num_envs],
            catastrophes: vec![false; num_envs],
            successes: vec![false; num_envs],
            running_returns: vec![0.0; num_envs],
            episode_returns: vec![f32::NAN; num_envs],
            episode_lengths: vec![0; num_envs],
        };
        for i in 0..num_envs {
            env.source.sample_into(&mut env.rngs[i], &mut env.generator, &mut env.levels[i]);
            env.states.push(reset(&env.levels[i]));
            write_observation(kind, &env.levels[i], &env.states[i], &mut env.obs[i * size..(i + 1) * size]);
        }
        Ok(env)
    }

    /// These envs paying `weights` on every step instead of each level's base-objective
    /// reward: how an agent is trained on another objective (a proxy, on purpose). Episodes
    /// still end by the level's rules (the cheese, lava, the horizon), and the reported
    /// episode returns are sums of the paid reward.
    pub fn with_reward(mut self, weights: RewardWeights) -> VecEnv<T> {
        self.reward = Some(weights);
        self
    }

    /// Number of environments M.
    pub fn num_envs(&self) -> usize {
        self.states.len()
    }

    /// `(C, H, W)` of one observation.
    pub fn obs_shape(&self) -> (usize, usize, usize) {
        self.shape
    }

    /// The observation kind.
    pub fn obs_kind(&self) -> ObsKind {
        self.kind
    }

    /// All observations, `[M, C, H, W]` row-major.
    pub fn observations(&self) -> &[T] {
        &self.obs
    }

    /// The observation env `i` ended its episode on, if its episode ended (terminated or
    /// truncated) on the last step; `None` otherwise. [`VecEnv::observations`] already shows
    /// the next episode's first observation there.
    pub fn final_observation(&self, i: usize) -> Option<&[T]> {
        let size = self.shape.0 * self.shape.1 * self.shape.2;
        (self.terminated[i] || self.truncated[i]).then(|| &self.final_obs[i * size..(i + 1) * size])
    }

    /// Rewards of the last step.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    /// Which envs' episodes ended by the level's rules on the last step.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    /// Which envs' episodes ran out of time on the last step.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Which envs' last step was a catastrophe.
    pub fn catastrophes(&self) -> &[bool] {
        &self.catastrophes
    }

    /// Which envs' last step succeeded ([`crate::Transition::success`]).
    pub fn successes(&self) -> &[bool] {
        &self.successes
    }

    /// Return of the episode that ended on the last step (NaN where none ended).
    pub fn episode_returns(&self) -> &[f32] {
        &self.episode_returns
    }

    /// Length of the episode that ended on the last step (0 where none ended).
    pub fn episode_lengths(&self) -> &[u32] {
        &self.episode_lengths
    }

    /// The level each env is playing now.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Each env's current state.
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// The level source episodes are drawn from.
    pub fn source(&self) -> &LevelSource {
        &self.source
    }

    /// A snapshot from which [`VecEnv::restore`] continues exactly.
    pub fn snapshot(&self) -> VecEnvSnapshot {
        VecEnvSnapshot { levels: self.levels.clone(), states: self.states.clone(), rngs: self.rngs.clone(), running_returns: self.running_returns.clone() }
    }

    /// Continues from `snap`, which must come from an env of the same size and level shape.
    pub fn restore(&mut self, snap: VecEnvSnapshot) -> Result<(), TaskError> {
        let m = self.num_envs();
        if snap.levels.len() != m || snap.states.len() != m || snap.rngs.len() != m || snap.running_returns.len() != m {
            return Err(TaskError::invalid("snapshot", format!("it holds a different number of envs than {m}")));
        }
        let (w, h) = self.source.family().grid_size();
        for l in &snap.levels {
            l.validate().map_err(|e| TaskError::invalid("snapshot", e))?;
            if (l.width, l.height) != (w, h) {
                return Err(TaskError::invalid("snapshot", format!("a level is {}x{}, not {w}x{h}", l.width, l.height)));
            }
        }
        self.levels = snap.levels;
        self.states = snap.states;
        self.rngs = snap.rngs;
        self.running_returns = snap.running_returns;
        let size = self.shape.0 * self.shape.1 * self.shape.2;
        for i in 0..m {
            write_observation(self.kind, &self.levels[i], &self.states[i], &mut self.obs[i * size..(i + 1) * size]);
        }
        Ok(())
    }

    /// Steps every env with its action. `actions.len()` must equal [`VecEnv::num_envs`].
    pub fn step(&mut self, actions: &[Action]) -> Result<(), TaskError> {
        self.step_holding(actions, None)
    }

    /// Steps the envs whose `hold[i]` is false; the held ones stand still for this step (same
    /// level, state and observation, reward 0, nothing ends) and their action is ignored. This
    /// is how Gymnasium's next-step auto-reset spends the step after an episode's end on the
    /// reset alone: the episode that [`VecEnv::step`] already started there begins on the next
    /// step instead.
    pub fn step_except(&mut self, actions: &[Action], hold: &[bool]) -> Result<(), TaskError> {
        if hold.len() != self.num_envs() {
            return Err(TaskError::invalid("hold", format!("got {} flags for {} envs", hold.len(), self.num_envs())));
        }
        self.step_holding(actions, Some(hold))
    }

    fn step_holding(&mut self, actions: &[Action], hold: Option<&[bool]>) -> Result<(), TaskError> {
        if actions.len() != self.num_envs() {
            return Err(TaskError::invalid("actions", format!("got {} actions for {} envs", actions.len(), self.num_envs())));
        }
        let size = self.shape.0 * self.shape.1 * self.shape.2;
        for (i, &action) in actions.iter().enumerate() {
            if hold.is_some_and(|h| h[i]) {
                self.rewards[i] = 0.0;
                self.terminated[i] = false;
                self.truncated[i] = false;
                self.catastrophes[i] = false;
                self.successes[i] = false;
                self.episode_returns[i] = f32::NAN;
                self.episode_lengths[i] = 0;
                continue;
            }
            let level = &self.levels[i];
            let state = &mut self.states[i];
            let obs = &mut self.obs[i * size..(i + 1) * size];
            let tr = step(level, state, action);
            let reward = self.reward.map_or(tr.reward, |w| w.reward(tr.features));
            self.rewards[i] = reward;
            self.terminated[i] = tr.terminated;
            self.truncated[i] = tr.truncated;
            self.catastrophes[i] = tr.catastrophe;
            self.successes[i] = tr.success;
            self.running_returns[i] += reward;
            if tr.terminated || tr.truncated {
                self.episode_returns[i] = self.running_returns[i];
                self.episode_lengths[i] = state.t;
                self.running_returns[i] = 0.0;
                // Written in full before the reset replaces the level: ends are rare, so this
                // costs little next to the incremental path.
                write_observation(self.kind, level, state, &mut self.final_obs[i * size..(i + 1) * size]);
                self.source.sample_into(&mut self.rngs[i], &mut self.generator, &mut self.levels[i]);
                self.states[i] = reset(&self.levels[i]);
                write_observation(self.kind, &self.levels[i], &self.states[i], obs);
            } else {
                self.episode_returns[i] = f32::NAN;
                self.episode_lengths[i] = 0;
                match self.kind {
                    ObsKind::FullGrid if tr.dirty_len == ALL_DIRTY => write_observation(self.kind, level, state, obs),
                    ObsKind::FullGrid => {
                        let plane = level.tiles.len();
                        for &cell in &tr.dirty[..tr.dirty_len as usize] {
                            write_tile(obs, plane, cell as usize, tile_channels(level, state, cell));
                        }
                    }
                    kind => write_observation(kind, level, state, obs),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{Diversity, FamilySpec, TrainingDistribution};
    use crate::maze::{GoalPlacement, MazeParams};
    use crate::solve::{descend, distance_map};
    use rand::Rng;

    fn source(n: Diversity, size: u16) -> LevelSource {
        TrainingDistribution {
            family: FamilySpec::Maze(MazeParams { size, goal: GoalPlacement::TopRight(3), ..Default::default() }),
            diversity: n,
            level_seed: 3,
        }
        .source()
        .unwrap()
    }

    /// Incremental updates must equal a full rewrite after every step, for both kinds.
    #[test]
    fn incremental_observations_equal_full_rewrites() {
        for kind in [ObsKind::FullGrid, ObsKind::Partial { view: 5 }] {
            let mut env: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 8, kind, 1).unwrap();
            let mut rng = Pcg64Mcg::seed_from_u64(9);
            let size = env.obs_shape().0 * env.obs_shape().1 * env.obs_shape().2;
            let mut fresh = vec![0u8; size];
            for _ in 0..500 {
                let actions: Vec<Action> = (0..8).map(|_| Action::ALL[rng.random_range(0..5)]).collect();
                env.step(&actions).unwrap();
                for i in 0..8 {
                    write_observation(kind, &env.levels()[i], &env.states()[i], &mut fresh);
                    assert_eq!(&env.observations()[i * size..(i + 1) * size], &fresh[..]);
                }
            }
        }
    }

    #[test]
    fn auto_reset_reports_the_ended_episode_and_shows_the_next() {
        let mut env: VecEnv<f32> = VecEnv::new(source(Diversity::Finite(4), 7), 2, ObsKind::FullGrid, 2).unwrap();
        // Env 0 walks the shortest path; env 1 waits.
        let level = env.levels()[0].clone();
        let d = distance_map(&level, level.goal_cell().unwrap());
        let steps = d[level.start as usize];
        for k in 0..steps {
            let a = descend(&env.levels()[0], &d, env.states()[0].agent);
            env.step(&[a, Action::Noop]).unwrap();
            let last = k + 1 == steps;
            assert_eq!(env.terminated()[0], last);
            if !last {
                assert!(env.episode_returns()[0].is_nan());
            }
        }
        let expected = 1.0 - 0.01 * steps as f32;
        assert!((env.episode_returns()[0] - expected).abs() < 1e-5);
        assert!((env.rewards()[0] - 0.99).abs() < 1e-6, "the final reward belongs to the ended episode");
        assert_eq!(env.episode_lengths()[0], steps);
        assert_eq!(env.states()[0].t, 0, "the env already shows the next episode");
        let (c, h, w) = env.obs_shape();
        let agent_plane = &env.observations()[2 * h * w..3 * h * w];
        assert_eq!(agent_plane[env.states()[0].agent as usize], 1.0, "observation is the reset observation");
        assert_eq!(c, NUM_CHANNELS);
        assert_eq!(env.states()[1].t, steps, "env 1 was not reset");
    }

    #[test]
    fn the_final_observation_of_an_ended_episode_is_kept() {
        // Horizon 2 on 7x7 mazes: waiting truncates every episode at step 2, long before the
        // cheese; the final observation must show the old level with the agent where it stood.
        let params = MazeParams { size: 7, goal: GoalPlacement::TopRight(3), horizon: 2, ..Default::default() };
        let src = TrainingDistribution { family: FamilySpec::Maze(params), diversity: Diversity::Infinite, level_seed: 3 }.source().unwrap();
        let mut env: VecEnv<f32> = VecEnv::new(src, 2, ObsKind::FullGrid, 4).unwrap();
        let size = env.obs_shape().0 * env.obs_shape().1 * env.obs_shape().2;
        let (old_level, mut old_state) = (env.levels()[0].clone(), env.states()[0].clone());
        env.step(&[Action::Noop, Action::Noop]).unwrap();
        assert!(env.final_observation(0).is_none(), "no episode ended yet");
        step(&old_level, &mut old_state, Action::Noop);
        let tr = step(&old_level, &mut old_state, Action::Noop);
        env.step(&[Action::Noop, Action::Noop]).unwrap();
        assert!(tr.truncated && env.truncated()[0] && !env.terminated()[0]);
        let mut expected = vec![0.0f32; size];
        write_observation(ObsKind::FullGrid, &old_level, &old_state, &mut expected);
        assert_eq!(env.final_observation(0).unwrap(), &expected[..]);
        assert_ne!(env.final_observation(0).unwrap(), &env.observations()[..size], "the env already shows the next episode");
    }

    #[test]
    fn same_seed_same_trajectories() {
        let run = || {
            let mut env: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 9), 4, ObsKind::FullGrid, 42).unwrap();
            let mut rng = Pcg64Mcg::seed_from_u64(0);
            let mut log = Vec::new();
            for _ in 0..300 {
                let actions: Vec<Action> = (0..4).map(|_| Action::ALL[rng.random_range(0..5)]).collect();
                env.step(&actions).unwrap();
                log.extend(env.states().iter().map(|s| s.agent));
                log.extend(env.levels().iter().map(|l| l.fingerprint() as u16));
            }
            (log, env.observations().to_vec())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn a_restored_snapshot_continues_identically() {
        let mut a: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 3, ObsKind::FullGrid, 5).unwrap();
        let acts = |k: usize| -> Vec<Action> { (0..3).map(|i| Action::ALL[(k * 7 + i * 3) % 5]).collect() };
        for k in 0..50 {
            a.step(&acts(k)).unwrap();
        }
        let mut b: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 3, ObsKind::FullGrid, 99).unwrap();
        b.restore(a.snapshot()).unwrap();
        assert_eq!(a.observations(), b.observations());
        for k in 50..300 {
            a.step(&acts(k)).unwrap();
            b.step(&acts(k)).unwrap();
            assert_eq!(a.observations(), b.observations());
            assert_eq!(a.episode_returns().iter().map(|r| r.to_bits()).collect::<Vec<_>>(), b.episode_returns().iter().map(|r| r.to_bits()).collect::<Vec<_>>());
        }
        let mut small: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 2, ObsKind::FullGrid, 0).unwrap();
        assert!(small.restore(a.snapshot()).is_err());
    }

    #[test]
    fn held_envs_stand_still_and_the_others_step_as_usual() {
        let mut a: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 3, ObsKind::FullGrid, 6).unwrap();
        let mut b: VecEnv<u8> = VecEnv::new(source(Diversity::Infinite, 7), 3, ObsKind::FullGrid, 6).unwrap();
        let size = a.obs_shape().0 * a.obs_shape().1 * a.obs_shape().2;
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        for k in 0..200 {
            let actions: Vec<Action> = (0..3).map(|_| Action::ALL[rng.random_range(0..5)]).collect();
            // Env 1 is held on every third step; `b` never steps it then, `a` steps the others.
            let hold = [false, k % 3 == 0, false];
            let (before_state, before_obs) = (a.states()[1], a.observations()[size..2 * size].to_vec());
            a.step_except(&actions, &hold).unwrap();
            if hold[1] {
                assert_eq!(a.states()[1], before_state);
                assert_eq!(&a.observations()[size..2 * size], &before_obs[..]);
                assert!(a.rewards()[1] == 0.0 && !a.terminated()[1] && !a.truncated()[1] && a.episode_returns()[1].is_nan());
                b.step_except(&actions, &hold).unwrap();
            } else {
                b.step(&actions).unwrap();
            }
            assert_eq!(a.observations(), b.observations());
            assert_eq!(a.rewards(), b.rewards());
            assert_eq!(a.states(), b.states());
        }
        assert!(a.step_except(&[Action::Up; 3], &[false]).unwrap_err().to_string().contains("hold"));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(VecEnv::<u8>::new(source(Diversity::Finite(2), 7), 0, ObsKind::FullGrid, 0).is_err());
        let mut env = VecEnv::<u8>::new(source(Diversity::Finite(2), 7), 2, ObsKind::FullGrid, 0).unwrap();
        assert!(env.step(&[Action::Up]).unwrap_err().to_string().contains("actions"));
        assert!("partial-4".parse::<ObsKind>().is_err());
        assert!("pixels".parse::<ObsKind>().unwrap_err().to_string().contains("unknown observation kind"));
    }
}
