//! Reference policies that need no learning: the uniform-random policy (the reference of
//! optimization power) and an exact shortest-path planner for the base objective (the
//! optimal policy of the maze family, and the stand-in for a human overseer downstream).

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::grid::{Action, Cell, Level, State};
use crate::solve::{descend, distance_map_into};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{reset, step, tests::parse};
    use crate::solve::StateSpace;
    use crate::Feature;

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
