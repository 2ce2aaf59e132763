//! Reference policies that need no learning: the uniform-random policy (the reference of
//! optimization power), the exact optimal policy of any linear objective ([`OptimalPolicy`],
//! by value iteration over a level's state space), and a fast shortest-path planner for the
//! maze's base objective (the stand-in for a human overseer downstream).

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::error::TaskError;
use crate::grid::{Action, Cell, Level, RewardWeights, State};
use crate::solve::{argmax, descend, distance_map_into, value_iteration, StateSpace, Values};

/// The most states an exact solver enumerates for one level (a maze of side 51 with four
/// pickups has about 42,000).
pub const MAX_EXACT_STATES: usize = 200_000;

/// Something that picks an action for a state of a level.
pub trait Policy {
    /// The action to take in `state` on `level`.
    fn act(&mut self, level: &Level, state: &State) -> Action;

    /// The probabilities it picks each action with in `state` at an episode's start, where
    /// it knows them (`None`: it does not say). Draws nothing, so acting after it is as
    /// acting without it. Policy vector fields are drawn from these.
    fn probabilities(&mut self, _level: &Level, _state: &State) -> Option<[f64; Action::COUNT]> {
        None
    }
}

/// Probability 1 on `action`: a deterministic policy's distribution.
pub fn certain(action: Action) -> [f64; Action::COUNT] {
    let mut p = [0.0; Action::COUNT];
    p[action.index()] = 1.0;
    p
}

/// Picks each of the five actions with probability 1/5.
pub struct UniformRandom {
    rng: Pcg64Mcg,
}

impl UniformRandom {
    /// A random policy with its own seeded stream.
    pub fn new(seed: u64) -> UniformRandom {
        UniformRandom { rng: Pcg64Mcg::seed_from_u64(seed) }
    }
}

impl Policy for UniformRandom {
    fn act(&mut self, _: &Level, _: &State) -> Action {
        Action::ALL[self.rng.random_range(0..Action::COUNT)]
    }

    fn probabilities(&mut self, _: &Level, _: &State) -> Option<[f64; Action::COUNT]> {
        Some([1.0 / Action::COUNT as f64; Action::COUNT])
    }
}

/// Walks a shortest tile path to the cheese. Exact for levels whose only object is the cheese
/// (the maze family); `Noop` where there is no cheese or no path. The distance map is cached
/// and recomputed only when the level changes.
#[derive(Default)]
pub struct ShortestPathToGoal {
    dist: Vec<u32>,
    queue: VecDeque<Cell>,
    cached: Option<(u64, Cell)>,
}

impl Policy for ShortestPathToGoal {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        let Some(goal) = level.goal_cell() else { return Action::Noop };
        let key = (level.fingerprint(), goal);
        if self.cached != Some(key) {
            distance_map_into(level, goal, &mut self.dist, &mut self.queue);
            self.cached = Some(key);
        }
        descend(level, &self.dist, state.agent)
    }

    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        Some(certain(self.act(level, state)))
    }
}

/// The exact optimal policy of a linear objective: greedy on `Q*` from [`value_iteration`]
/// over the level's state space (ties broken in [`Action::ALL`] order), solved once per level.
/// The state space is timeless, so this is the discounted optimum without a horizon.
pub struct OptimalPolicy {
    weights: RewardWeights,
    gamma: f64,
    max_states: usize,
    /// The last level's fingerprint, state space and values.
    solved: Option<(u64, StateSpace, Values)>,
}

impl OptimalPolicy {
    /// The optimal policy of `weights` with discount `gamma`, within [`MAX_EXACT_STATES`].
    pub fn new(weights: RewardWeights, gamma: f64) -> OptimalPolicy {
        OptimalPolicy { weights, gamma, max_states: MAX_EXACT_STATES, solved: None }
    }

    /// The same with another state budget.
    pub fn with_budget(self, max_states: usize) -> OptimalPolicy {
        OptimalPolicy { max_states, solved: None, ..self }
    }

    /// Solves `level` (once; later calls on the same level are free), or says why it cannot:
    /// [`TaskError::StateSpaceTooLarge`], or an impossible discount.
    pub fn solve(&mut self, level: &Level) -> Result<(), TaskError> {
        let key = level.fingerprint();
        if self.solved.as_ref().is_none_or(|(k, _, _)| *k != key) {
            self.solved = None;
            let space = StateSpace::enumerate(level, self.max_states)?;
            let values = value_iteration(&space, &self.weights, self.gamma, 1e-9, 100_000)?;
            self.solved = Some((key, space, values));
        }
        Ok(())
    }

    /// `Q*` of every action in `state`; an error where the level cannot be solved or the
    /// state is not one its episodes can reach.
    pub fn q(&mut self, level: &Level, state: &State) -> Result<[f64; Action::COUNT], TaskError> {
        self.solve(level)?;
        let (_, space, values) = self.solved.as_ref().expect("solved above");
        space.index_of(state).map(|i| values.q[i as usize]).ok_or(TaskError::UnreachableState { agent: state.agent })
    }

    /// The optimal action in `state`, or why there is none.
    pub fn try_act(&mut self, level: &Level, state: &State) -> Result<Action, TaskError> {
        let q = self.q(level, state)?;
        Ok(Action::ALL[argmax(&q)])
    }
}

/// As a [`Policy`] it must act, so where [`OptimalPolicy::try_act`] fails it waits (`Noop`):
/// a caller that must not play such a stand-in calls [`OptimalPolicy::solve`] on each level
/// first and passes the error on.
impl Policy for OptimalPolicy {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        self.try_act(level, state).unwrap_or(Action::Noop)
    }

    fn probabilities(&mut self, level: &Level, state: &State) -> Option<[f64; Action::COUNT]> {
        Some(certain(self.act(level, state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{reset, step, tests::parse};
    use crate::solve::StateSpace;
    use crate::Feature;

    #[test]
    fn the_exact_optimum_of_the_base_objective_walks_the_shortest_path() {
        // Over 1,000 mazes of several sizes and goal placements, in every state of its
        // episodes, the base objective's exact optimum takes the fast planner's action.
        use crate::{Diversity, FamilySpec, GoalPlacement, MazeParams, Shift, TrainingDistribution};
        let mut checked = 0;
        for (size, goal, count) in [(7, GoalPlacement::Anywhere, 200), (9, GoalPlacement::TopRight(3), 400), (13, GoalPlacement::Anywhere, 400)] {
            let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size, goal, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
            for level in dist.held_out_levels(Shift::None, count, 1).unwrap() {
                let (mut exact, mut fast) = (OptimalPolicy::new(level.reward, 0.97), ShortestPathToGoal::default());
                let mut s = reset(&level);
                while !s.done() {
                    let a = exact.try_act(&level, &s).unwrap();
                    assert_eq!(a, fast.act(&level, &s), "level {:016x} at {}", level.fingerprint(), s.agent);
                    step(&level, &mut s, a);
                }
                assert!(!s.present(0), "it reached the cheese");
                checked += 1;
            }
        }
        assert_eq!(checked, 1000);
        // Too large for the budget, or a state no episode reaches: an error, not a no-op.
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 9, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
        let level = &dist.held_out_levels(Shift::None, 1, 0).unwrap()[0];
        let mut tiny = OptimalPolicy::new(level.reward, 0.97).with_budget(3);
        assert_eq!(tiny.try_act(level, &reset(level)), Err(TaskError::StateSpaceTooLarge { limit: 3 }));
        assert_eq!(tiny.act(level, &reset(level)), Action::Noop, "as a Policy it waits");
        let wall = State { agent: 0, ..reset(level) };
        assert_eq!(OptimalPolicy::new(level.reward, 0.97).try_act(level, &wall), Err(TaskError::UnreachableState { agent: 0 }));
        assert!(matches!(OptimalPolicy::new(level.reward, 1.0).solve(level), Err(TaskError::Invalid { param: "gamma", .. })));
    }

    #[test]
    fn planner_takes_a_shortest_path() {
        let level = parse(&["#######", "#A#..C#", "#.#.#.#", "#.....#", "#######"], 50);
        let shortest = StateSpace::enumerate(&level, 1000).unwrap().shortest_path(Feature::AtGoal).unwrap().len();
        let mut planner = ShortestPathToGoal::default();
        let mut s = reset(&level);
        let mut steps = 0;
        while !s.done() {
            let a = planner.act(&level, &s);
            step(&level, &mut s, a);
            steps += 1;
        }
        assert_eq!(steps, shortest);
        assert!(!s.present(0), "the cheese was eaten");
    }
}
