//! Exact solvers over a level's enumerable state space: BFS shortest paths, value iteration
//! for any linear reward over [`Feature`]s, and the exact distribution of the return of the
//! uniform-random policy (the reference distribution of optimization power in bits).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

/// A hash map whose iteration order depends only on what was inserted, in which order.
type FixedMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

use crate::error::TaskError;
use crate::grid::{reset, step, Action, Cell, Feature, FeatureSet, Level, RewardWeights, State, Tile};

/// Distance in steps from every tile to `target`, moving between non-wall, non-lava tiles and
/// ignoring objects; `u32::MAX` where `target` cannot be reached.
pub fn distance_map(level: &Level, target: Cell) -> Vec<u32> {
    let mut dist = Vec::new();
    distance_map_into(level, target, &mut dist, &mut VecDeque::new());
    dist
}

/// [`distance_map`] into reusable buffers, for policies that recompute it every episode.
pub fn distance_map_into(level: &Level, target: Cell, dist: &mut Vec<u32>, queue: &mut VecDeque<Cell>) {
    dist.clear();
    dist.resize(level.tiles.len(), u32::MAX);
    queue.clear();
    dist[target as usize] = 0;
    queue.push_back(target);
    while let Some(c) = queue.pop_front() {
        for a in &Action::ALL[..4] {
            if let Some(n) = level.neighbour(c, *a) {
                if level.tile(n) == Tile::Floor && dist[n as usize] == u32::MAX {
                    dist[n as usize] = dist[c as usize] + 1;
                    queue.push_back(n);
                }
            }
        }
    }
}

/// The action that moves from `cell` one step down a distance map, or `Noop` at the target or
/// where it is unreachable. Ties break in [`Action::ALL`] order so the choice is deterministic.
pub fn descend(level: &Level, dist: &[u32], cell: Cell) -> Action {
    let here = dist[cell as usize];
    Action::ALL[..4]
        .iter()
        .copied()
        .filter_map(|a| level.neighbour(cell, a).map(|n| (a, dist[n as usize])))
        .filter(|&(_, d)| d < here)
        .min_by_key(|&(_, d)| d)
        .map_or(Action::Noop, |(a, _)| a)
}

/// Marks a transition that ends the episode: it has no successor state.
pub const TERMINAL: u32 = u32::MAX;

/// One action's outcome from an enumerated state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    /// Index of the successor state, or [`TERMINAL`].
    pub next: u32,
    /// The features the transition fired.
    pub features: FeatureSet,
}

/// Every state reachable from a level's start (clock excluded), with its transitions.
#[derive(Clone, Debug)]
pub struct StateSpace {
    /// The states, index 0 being the start.
    pub states: Vec<State>,
    /// `edges[s][a]`: what action `a` does in state `s`.
    pub edges: Vec<[Edge; Action::COUNT]>,
    index: HashMap<State, u32>,
}

impl StateSpace {
    /// Enumerates the states reachable from `level`'s start by breadth-first search.
    /// Fails with [`TaskError::StateSpaceTooLarge`] past `max_states`.
    pub fn enumerate(level: &Level, max_states: usize) -> Result<StateSpace, TaskError> {
        let start = reset(level);
        let mut states = vec![start];
        let mut index = HashMap::from([(start, 0u32)]);
        let mut edges = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            let mut row = [Edge { next: TERMINAL, features: FeatureSet::default() }; Action::COUNT];
            for a in Action::ALL {
                // The clock is excluded: a truncation the step may report is dropped by
                // `timeless`, and the horizon is applied by each solver instead.
                let mut n = s;
                let tr = step(level, &mut n, a);
                row[a.index()].features = tr.features;
                if !tr.terminated {
                    let key = n.timeless();
                    let next = match index.get(&key) {
                        Some(&j) => j,
                        None => {
                            if states.len() >= max_states {
                                return Err(TaskError::StateSpaceTooLarge { limit: max_states });
                            }
                            states.push(key);
                            index.insert(key, (states.len() - 1) as u32);
                            (states.len() - 1) as u32
                        }
                    };
                    row[a.index()].next = next;
                }
            }
            edges.push(row);
            i += 1;
        }
        Ok(StateSpace { states, edges, index })
    }

    /// The index of `state` (clock ignored), if it is reachable.
    pub fn index_of(&self, state: &State) -> Option<u32> {
        self.index.get(&state.timeless()).copied()
    }

    /// Number of states.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the space is empty (it never is: the start is always in it).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// A shortest action sequence from the start to a transition that fires `goal`, if any.
    pub fn shortest_path(&self, goal: Feature) -> Option<Vec<Action>> {
        let mut parent: Vec<Option<(u32, Action)>> = vec![None; self.len()];
        let mut seen = vec![false; self.len()];
        seen[0] = true;
        let mut queue = VecDeque::from([0u32]);
        while let Some(s) = queue.pop_front() {
            for a in Action::ALL {
                let e = self.edges[s as usize][a.index()];
                if e.features.has(goal) {
                    let mut path = vec![a];
                    let mut cur = s;
                    while let Some((p, pa)) = parent[cur as usize] {
                        path.push(pa);
                        cur = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                if e.next != TERMINAL && !seen[e.next as usize] {
                    seen[e.next as usize] = true;
                    parent[e.next as usize] = Some((s, a));
                    queue.push_back(e.next);
                }
            }
        }
        None
    }
}

/// Optimal values of a linear reward, discounted by `gamma`.
#[derive(Clone, Debug)]
pub struct Values {
    /// `v[s]`: optimal value of state `s`.
    pub v: Vec<f64>,
    /// `q[s][a]`: optimal value of action `a` in state `s`.
    pub q: Vec<[f64; Action::COUNT]>,
    /// Sweeps until the largest change fell below the tolerance.
    pub sweeps: usize,
}

/// Value iteration for the reward `weights` over `space`: `Q(s,a) = r(s,a) + γ·V(s')`, with
/// `V = 0` after a terminal transition. Stops when no value changes by more than `tol`.
pub fn value_iteration(space: &StateSpace, weights: &RewardWeights, gamma: f64, tol: f64, max_sweeps: usize) -> Result<Values, TaskError> {
    if !(0.0..1.0).contains(&gamma) {
        return Err(TaskError::invalid("gamma", format!("{gamma} must be in [0, 1)")));
    }
    let n = space.len();
    let rewards: Vec<[f64; Action::COUNT]> =
        space.edges.iter().map(|row| row.map(|e| weights.reward(e.features) as f64)).collect();
    let mut v = vec![0.0; n];
    let mut q = vec![[0.0; Action::COUNT]; n];
    let mut sweeps = 0;
    while sweeps < max_sweeps {
        sweeps += 1;
        let mut delta: f64 = 0.0;
        for s in 0..n {
            let mut best = f64::NEG_INFINITY;
            for a in 0..Action::COUNT {
                let e = space.edges[s][a];
                let future = if e.next == TERMINAL { 0.0 } else { v[e.next as usize] };
                q[s][a] = rewards[s][a] + gamma * future;
                best = best.max(q[s][a]);
            }
            delta = delta.max((best - v[s]).abs());
            v[s] = best;
        }
        if delta <= tol {
            break;
        }
    }
    Ok(Values { v, q, sweeps })
}

/// The first index of the largest value; NaN never wins. Exact planners break ties by it, in
/// [`Action::ALL`] order, and the audit's candidate lists (earlier candidates win ties, so the
/// base objective wins a tie with a candidate that behaves identically).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in xs.iter().enumerate() {
        if *x > xs[best] {
            best = i;
        }
    }
    best
}

/// Returns are compared on a grid of this resolution, so that the same return reached along
/// different paths (summed in another order) counts as one value.
const RETURN_RESOLUTION: f64 = 1e6;

/// A reward or return in whole units of the return grid.
fn units(x: f64) -> i64 {
    (x * RETURN_RESOLUTION).round() as i64
}

/// `ret + reward`, accumulated on the return grid the exact solvers use: each step's reward
/// is rounded to the grid before it is added, as the dynamic program does. Summing floats
/// instead and rounding once drifts (after ~2,000 steps of a 0.01 f32 step cost the total is
/// one grid unit off), and an episode would then miss its own tie class in
/// [`ReturnDistribution::prob_at_least`].
pub fn add_reward(ret: f64, reward: f64) -> f64 {
    (units(ret) + units(reward)) as f64 / RETURN_RESOLUTION
}

/// The exact distribution of a policy's return: sorted distinct returns and their probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnDistribution {
    /// `(return, probability)`, sorted by return, probabilities summing to 1.
    pub outcomes: Vec<(f64, f64)>,
}

impl ReturnDistribution {
    /// `P(R ≥ r)`, with `r` compared at the solver's resolution. Summation can put the total
    /// a hair above 1; a probability is at most 1.
    pub fn prob_at_least(&self, r: f64) -> f64 {
        let key = units(r);
        self.outcomes.iter().filter(|(v, _)| units(*v) >= key).map(|(_, p)| p).sum::<f64>().min(1.0)
    }

    /// Optimization power in bits of achieving return `r` against this reference distribution:
    /// `−log2 P(R ≥ r)`; infinite when the reference can never do as well.
    pub fn bits(&self, r: f64) -> f64 {
        -self.prob_at_least(r).log2()
    }

    /// Expected return.
    pub fn mean(&self) -> f64 {
        self.outcomes.iter().map(|(v, p)| v * p).sum()
    }
}

/// The exact return distribution of the uniform-random policy over `Action::ALL` on an
/// episode of `horizon` steps from the start, for the reward `weights`. Dynamic programming
/// over (state, return so far) forward in time.
pub fn random_return_distribution(space: &StateSpace, weights: &RewardWeights, horizon: u32) -> ReturnDistribution {
    let p_action = 1.0 / Action::COUNT as f64;
    let rewards: Vec<[i64; Action::COUNT]> = space
        .edges
        .iter()
        .map(|row| row.map(|e| units(weights.reward(e.features) as f64)))
        .collect();
    // Maps with a fixed hasher: the probabilities are float sums in iteration order, and a
    // randomly seeded map would change their last bits from process to process (and with them
    // the bytes of every report that prints them).
    let mut ended: FixedMap<i64, f64> = FixedMap::default();
    let mut mass: FixedMap<(u32, i64), f64> = FixedMap::default();
    mass.insert((0, 0), 1.0);
    let mut next: FixedMap<(u32, i64), f64> = FixedMap::default();
    for _ in 0..horizon {
        next.clear();
        for (&(s, ret), &m) in &mass {
            for a in 0..Action::COUNT {
                let e = space.edges[s as usize][a];
                let r = ret + rewards[s as usize][a];
                let pm = m * p_action;
                if e.next == TERMINAL {
                    *ended.entry(r).or_default() += pm;
                } else {
                    *next.entry((e.next, r)).or_default() += pm;
                }
            }
        }
        std::mem::swap(&mut mass, &mut next);
        if mass.is_empty() {
            break;
        }
    }
    for (&(_, ret), &m) in &mass {
        *ended.entry(ret).or_default() += m;
    }
    let mut outcomes: Vec<(f64, f64)> = ended.into_iter().map(|(k, p)| (k as f64 / RETURN_RESOLUTION, p)).collect();
    outcomes.sort_by(|a, b| a.0.total_cmp(&b.0));
    ReturnDistribution { outcomes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::tests::parse;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn long_episodes_keep_their_tie_class() {
        // No cheese: every episode, the random policy's included, pays the step cost for 2,500
        // steps, so an agent that stays put earns the one return there is: zero bits.
        let level = parse(&["#####", "#A..#", "#####"], 2500);
        let space = StateSpace::enumerate(&level, 10_000).unwrap();
        let dist = random_return_distribution(&space, &level.reward, level.horizon);
        let mut s = crate::reset(&level);
        let (mut on_grid, mut float_sum) = (0.0, 0.0);
        while !s.done() {
            let r = crate::step(&level, &mut s, Action::Noop).reward as f64;
            on_grid = add_reward(on_grid, r);
            float_sum += r;
        }
        assert_eq!(dist.prob_at_least(on_grid), 1.0, "return {on_grid}");
        assert_eq!(dist.bits(on_grid), 0.0);
        // The float sum has drifted a grid unit above the worst class: the defect this guards.
        assert!(dist.prob_at_least(float_sum) < 1.0, "float sum {float_sum} no longer drifts; the test lost its point");
    }

    fn corridor_with_branch() -> Level {
        parse(&["#######", "#A...C#", "#.###.#", "#.....#", "#######"], 30)
    }

    #[test]
    fn bfs_finds_shortest_paths_on_hand_made_levels() {
        let level = corridor_with_branch();
        let space = StateSpace::enumerate(&level, 10_000).unwrap();
        let path = space.shortest_path(Feature::AtGoal).unwrap();
        assert_eq!(path, vec![Action::Right; 4]);
        let d = distance_map(&level, level.goal_cell().unwrap());
        assert_eq!(d[level.start as usize], 4);
        assert_eq!(d[level.cell(1, 3) as usize], 6, "around the loop the other way");
        assert_eq!(d[0], u32::MAX, "walls are unreachable");
        assert_eq!(descend(&level, &d, level.start), Action::Right);

        let walled = parse(&["#####", "#A#C#", "#####"], 10);
        let space = StateSpace::enumerate(&walled, 100).unwrap();
        assert_eq!(space.shortest_path(Feature::AtGoal), None);
        assert_eq!(space.len(), 1);
    }

    #[test]
    fn bfs_plans_through_keys_and_chests() {
        // The chest blocks the corridor; the key is behind the agent.
        let level = parse(&["#######", "#kA.cC#", "#######"], 30);
        let space = StateSpace::enumerate(&level, 10_000).unwrap();
        let path = space.shortest_path(Feature::AtGoal).unwrap();
        assert_eq!(path, vec![Action::Left, Action::Right, Action::Right, Action::Right, Action::Right]);
    }

    #[test]
    fn value_iteration_matches_closed_form() {
        // A corridor: the cheese 3 steps away; reward 1 at the goal, γ = 0.9.
        let level = parse(&["######", "#A..C#", "######"], 30);
        let space = StateSpace::enumerate(&level, 100).unwrap();
        let w = RewardWeights::only(Feature::AtGoal, 1.0);
        let vals = value_iteration(&space, &w, 0.9, 1e-12, 1000).unwrap();
        let s0 = space.index_of(&reset(&level)).unwrap() as usize;
        assert!((vals.v[s0] - 0.81).abs() < 1e-9, "V(start) = γ² · 1 = 0.81, got {}", vals.v[s0]);
        assert!((vals.q[s0][Action::Right.index()] - 0.81).abs() < 1e-9);
        assert!((vals.q[s0][Action::Left.index()] - 0.729).abs() < 1e-9, "bumping the wall wastes a step");

        // A corner-seeking objective: from the corner's neighbour, stepping in and staying
        // forever is worth 1 + γ/(1-γ) = 2 at γ = 0.5.
        let level = parse(&["######", "#A...#", "#..C.#", "######"], 30);
        let space = StateSpace::enumerate(&level, 100).unwrap();
        let w = RewardWeights::only(Feature::AtTopRightCorner, 1.0);
        let vals = value_iteration(&space, &w, 0.5, 1e-12, 1000).unwrap();
        let corner_neighbour = space.states.iter().position(|s| s.agent == level.cell(3, 1)).unwrap();
        assert!((vals.v[corner_neighbour] - 2.0).abs() < 1e-9, "1/(1-0.5) = 2");
        assert!(value_iteration(&space, &w, 1.0, 1e-9, 10).is_err(), "γ=1 is rejected");
    }

    #[test]
    fn random_return_distribution_sums_to_one_and_matches_monte_carlo() {
        let level = corridor_with_branch();
        let space = StateSpace::enumerate(&level, 10_000).unwrap();
        let dist = random_return_distribution(&space, &level.reward, level.horizon);
        let total: f64 = dist.outcomes.iter().map(|o| o.1).sum();
        assert!((total - 1.0).abs() < 1e-12, "probabilities sum to {total}");

        // Exact by hand on the smallest case: one step to the cheese, horizon 1.
        let tiny = parse(&["####", "#AC#", "####"], 1);
        let tiny_space = StateSpace::enumerate(&tiny, 10).unwrap();
        let d = random_return_distribution(&tiny_space, &tiny.reward, 1);
        assert!((d.prob_at_least(0.99) - 0.2).abs() < 1e-12);
        assert!((d.bits(0.99) - 5f64.log2()).abs() < 1e-9);

        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let episodes = 200_000;
        let mut hits = [0usize; 3];
        let thresholds = [0.9, 0.7, -0.2];
        for _ in 0..episodes {
            let mut s = reset(&level);
            let mut ret = 0.0f64;
            while !s.done() {
                ret += step(&level, &mut s, Action::ALL[rng.random_range(0..5)]).reward as f64;
            }
            for (h, t) in hits.iter_mut().zip(thresholds) {
                *h += (ret >= t - 1e-6) as usize;
            }
        }
        for (h, t) in hits.iter().zip(thresholds) {
            let mc = *h as f64 / episodes as f64;
            let exact = dist.prob_at_least(t);
            let se = (exact * (1.0 - exact) / episodes as f64).sqrt();
            assert!((mc - exact).abs() < 5.0 * se + 1e-9, "P(R ≥ {t}): exact {exact}, Monte Carlo {mc}");
        }
    }
}
