//! Impact measures computed exactly with the task engine's state space: relative reachability
//! (Krakovna et al.) and attainable-utility preservation (Turner et al.), each against the
//! stepwise inaction baseline (the no-op from the same state).
//!
//! An episode ending is special. Stepping into lava ends it with a catastrophe: every state
//! becomes unreachable and every utility unattainable, the largest impact there is. Reaching
//! the cheese ends it too, but that end is what the designer asked for, so it is given no
//! impact; without this exemption both measures would veto finishing the task.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use mesascope_tasks::solve::{value_iteration, StateSpace, Values, TERMINAL};
use mesascope_tasks::{Action, FamilySpec, Feature, Level, RewardWeights, State};

use crate::GuardError;

/// Which impact measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImpactMeasure {
    /// Fraction of the states reachable after the no-op that the action makes unreachable.
    RelativeReachability,
    /// Mean relative change of attainable auxiliary utilities (survival, each exposed feature).
    AttainableUtility,
}

/// Per-level solved data, cached while the level stays the same.
struct Solved {
    space: StateSpace,
    /// `reach[s]`: the states reachable from `s` (a bit set).
    reach: Vec<Vec<u64>>,
    /// Auxiliary utilities' values.
    aux: Vec<Values>,
}

/// Exact impact of actions.
pub struct Impact {
    measure: ImpactMeasure,
    gamma: f64,
    /// The utilities attainable utility preservation keeps (the family's auxiliary roles).
    aux_utilities: Vec<RewardWeights>,
    cache: HashMap<u64, Solved>,
}

fn reachable(space: &StateSpace, from: usize) -> Vec<u64> {
    let mut seen = vec![0u64; space.len().div_ceil(64)];
    let mut stack = vec![from];
    seen[from / 64] |= 1 << (from % 64);
    while let Some(s) = stack.pop() {
        for e in &space.edges[s] {
            if e.next != TERMINAL {
                let n = e.next as usize;
                if seen[n / 64] & (1 << (n % 64)) == 0 {
                    seen[n / 64] |= 1 << (n % 64);
                    stack.push(n);
                }
            }
        }
    }
    seen
}

impl Impact {
    /// An impact measure with discount `gamma` for attainable utilities, whose auxiliary
    /// utilities are those `family` declares ([`mesascope_tasks::Roles::aux_utilities`]).
    pub fn new(measure: ImpactMeasure, gamma: f64, family: &FamilySpec) -> Impact {
        Impact { measure, gamma, aux_utilities: family.roles().aux_utilities, cache: HashMap::new() }
    }

    fn solved(&mut self, level: &Level) -> Result<&Solved, GuardError> {
        let key = level.fingerprint();
        if !self.cache.contains_key(&key) {
            let space = StateSpace::enumerate(level, 200_000)?;
            let reach = (0..space.len()).map(|s| reachable(&space, s)).collect();
            let aux = self.aux_utilities.iter().map(|w| value_iteration(&space, w, self.gamma, 1e-9, 100_000)).collect::<Result<_, _>>()?;
            if self.cache.len() > 64 {
                self.cache.clear();
            }
            self.cache.insert(key, Solved { space, reach, aux });
        }
        Ok(&self.cache[&key])
    }

    /// The impact of `action` in `state` on `level`, in [0, 1].
    pub fn of(&mut self, level: &Level, state: &State, action: Action) -> Result<f64, GuardError> {
        let measure = self.measure;
        let solved = self.solved(level)?;
        let Some(s) = solved.space.index_of(state) else { return Ok(0.0) };
        let s = s as usize;
        let edge = solved.space.edges[s][action.index()];
        let baseline = solved.space.edges[s][Action::Noop.index()];
        if edge.next == TERMINAL {
            return Ok(if edge.features.has(Feature::OnLava) { 1.0 } else { 0.0 });
        }
        let after = edge.next as usize;
        let base = if baseline.next == TERMINAL { s } else { baseline.next as usize };
        Ok(match measure {
            ImpactMeasure::RelativeReachability => {
                let (b, a) = (&solved.reach[base], &solved.reach[after]);
                let lost: u32 = b.iter().zip(a).map(|(b, a)| (b & !a).count_ones()).sum();
                let total: u32 = b.iter().map(|b| b.count_ones()).sum();
                lost as f64 / total.max(1) as f64
            }
            ImpactMeasure::AttainableUtility => {
                let change: f64 = solved
                    .aux
                    .iter()
                    .map(|v| {
                        let (q_a, q_0) = (v.v[after], v.v[base]);
                        (q_a - q_0).abs() / q_0.abs().max(1e-9)
                    })
                    .sum();
                (change / solved.aux.len() as f64).min(1.0)
            }
        })
    }
}

/// The impact guard: vetoes an action whose impact exceeds the budget.
pub struct ImpactGuard {
    /// The measure.
    pub impact: Impact,
    /// Largest allowed impact.
    pub budget: f64,
}

impl ImpactGuard {
    /// The action's impact, and whether it exceeds the budget.
    pub fn check(&mut self, level: &Level, state: &State, action: Action) -> Result<(f64, bool), GuardError> {
        let i = self.impact.of(level, state, action)?;
        Ok((i, i > self.budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesascope_tasks::{reset, Diversity, FamilySpec, LavaPlacement, MazeParams, Shift, TrainingDistribution};

    #[test]
    fn lava_has_full_impact_and_ordinary_moves_none() {
        let dist = TrainingDistribution {
            family: FamilySpec::Maze(MazeParams { size: 7, lava: LavaPlacement::OffRoute(2), loops: 3, ..Default::default() }),
            diversity: Diversity::Infinite,
            level_seed: 0,
        };
        for level in dist.held_out_levels(Shift::LavaOnRoute, 20, 1).unwrap() {
            for measure in [ImpactMeasure::RelativeReachability, ImpactMeasure::AttainableUtility] {
                let mut impact = Impact::new(measure, 0.97, &dist.family);
                let space = StateSpace::enumerate(&level, 10_000).unwrap();
                for st in &space.states {
                    for a in Action::ALL {
                        let next = level.neighbour(st.agent, a).map(|c| level.tile(c));
                        let i = impact.of(&level, st, a).unwrap();
                        if next == Some(mesascope_tasks::grid::Tile::Lava) {
                            assert_eq!(i, 1.0, "{measure:?}: into lava");
                        } else {
                            assert!(i < 0.5, "{measure:?}: an ordinary move has impact {i}");
                        }
                    }
                }
            }
        }
    }

    /// Walks to the nearest lava tile: the agent that seeks catastrophe on purpose.
    struct LavaSeeker;

    impl mesascope_tasks::Policy for LavaSeeker {
        fn act(&mut self, level: &Level, state: &State) -> Action {
            // (A cheese next to the start leaves the shift no route tile for lava: nothing to seek.)
            let Some(lava) = level.tiles.iter().position(|t| *t == mesascope_tasks::grid::Tile::Lava) else { return Action::Noop };
            let lava = lava as u16;
            // Treat the lava tile as floor to plan a path into it.
            let mut open = level.clone();
            open.tiles[lava as usize] = mesascope_tasks::grid::Tile::Floor;
            mesascope_tasks::solve::descend(&open, &mesascope_tasks::solve::distance_map(&open, lava), state.agent)
        }
    }

    #[test]
    fn the_impact_guard_stops_a_lava_seeker_before_its_first_catastrophe() {
        use mesascope_tasks::{step, Policy};
        let dist = TrainingDistribution {
            family: FamilySpec::Maze(MazeParams { size: 9, lava: LavaPlacement::OffRoute(2), loops: 3, ..Default::default() }),
            diversity: Diversity::Infinite,
            level_seed: 0,
        };
        let levels = dist.held_out_levels(Shift::LavaOnRoute, 40, 2).unwrap();
        for (budget, vetoes) in [(0.5, true), (2.0, false)] {
            let mut guard = ImpactGuard { impact: Impact::new(ImpactMeasure::RelativeReachability, 0.97, &dist.family), budget };
            let mut catastrophes = 0;
            for level in &levels {
                let mut s = reset(level);
                let mut stopped = false;
                while !s.done() {
                    let proposed = LavaSeeker.act(level, &s);
                    // On a veto the agent stops: no-ops until the episode ends.
                    stopped |= !stopped && guard.check(level, &s, proposed).unwrap().1;
                    catastrophes += step(level, &mut s, if stopped { Action::Noop } else { proposed }).catastrophe as usize;
                }
            }
            if vetoes {
                assert_eq!(catastrophes, 0, "stopped before the first catastrophe on every level");
            } else {
                // An impossible budget never vetoes: the seeker reaches lava wherever its
                // first lava tile is reachable.
                assert!(catastrophes > levels.len() / 2, "{catastrophes}");
            }
        }
    }
}
