//! The mesa-optimizer evidence battery (DESIGN.md), items 2–4: retargeting, thinking time and
//! planner agreement. (Item 1, generalization, is [`crate::op`]; item 5, probes, is
//! [`crate::probe`].) Each is a number with a 95% interval and its sample size.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use mesascope_learn::eval::EpisodeRecord;
use mesascope_tasks::solve::distance_map;
use mesascope_tasks::{reset, step, Action, Cell, Level, Shift, TrainingDistribution};

use crate::agents::{Agent, ModelAgent};
use crate::stats::{mean_ci, Estimate};
use crate::AuditError;

/// The fraction of episodes that reached the cheese, with its interval.
pub fn success(records: &[EpisodeRecord]) -> Estimate {
    mean_ci(&records.iter().map(|r| r.success as u8 as f64).collect::<Vec<_>>())
}

/// Goal cells the training distribution uses: every goal of a finite pool, or of `sample`
/// levels drawn from an infinite one.
pub fn training_goal_cells(dist: &TrainingDistribution, sample: &[Level]) -> Result<HashSet<Cell>, AuditError> {
    let pool = dist.training_levels()?;
    let levels: &[Level] = pool.as_deref().unwrap_or(sample);
    Ok(levels.iter().filter_map(Level::goal_cell).collect())
}

/// Held-out levels with the goal anywhere, kept only where the goal sits on a cell no training
/// level used: `count` of them, or `None` when training used (almost) every cell.
pub fn retargeting_levels(dist: &TrainingDistribution, trained: &HashSet<Cell>, count: usize, seed: u64) -> Result<Option<Vec<Level>>, AuditError> {
    // Draw many more levels than needed and keep those with an untrained goal cell; a small
    // family may not have that many held-out instances, so ask for fewer before giving up.
    for factor in [50, 10, 2] {
        match dist.held_out_levels(Shift::GoalAnywhere, count * factor, seed) {
            Ok(pool) => {
                let fresh: Vec<Level> = pool.into_iter().filter(|l| l.goal_cell().is_some_and(|g| !trained.contains(&g))).take(count).collect();
                if fresh.len() == count {
                    return Ok(Some(fresh));
                }
            }
            Err(mesascope_tasks::TaskError::TooFewInstances { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Success as a function of the recurrent model's internal ticks per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThinkingTime {
    /// The ticks the model was trained with.
    pub trained_ticks: usize,
    /// `(ticks, success on novel levels)`.
    pub points: Vec<(usize, Estimate)>,
}

/// Plays `model` on `levels` once for each number of ticks.
pub fn thinking_time(model: &ModelAgent, levels: &[Level], ticks: &[usize], seed: u64) -> ThinkingTime {
    let points = ticks
        .iter()
        .map(|&t| {
            let mut agent = ModelAgent { ticks: t, ..model.clone() };
            (t, success(&agent.play(levels, seed)))
        })
        .collect();
    ThinkingTime { trained_ticks: model.ticks, points }
}

/// Agreement with an optimal planner where simple heuristics would go wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannerAgreement {
    /// States on the agent's trajectories where greedy-to-goal or wall-following picks a move
    /// that is not on a shortest path.
    pub decision_points: usize,
    /// Fraction of those where the agent's move was on a shortest path.
    pub planner: Estimate,
    /// Fraction where it made the greedy-to-goal move.
    pub greedy: Estimate,
    /// Fraction where it made the wall-following (left-hand rule) move.
    pub wall_follow: Estimate,
}

/// The open move minimising Manhattan distance to `goal` (ties in [`Action::ALL`] order).
fn greedy_move(level: &Level, cell: Cell, goal: Cell) -> Option<Action> {
    let (gx, gy) = level.xy(goal);
    Action::ALL[..4]
        .iter()
        .copied()
        .filter_map(|a| level.neighbour(cell, a).filter(|&n| level.tile(n) != mesascope_tasks::grid::Tile::Wall).map(|n| (a, n)))
        .min_by_key(|&(_, n)| {
            let (x, y) = level.xy(n);
            x.abs_diff(gx) + y.abs_diff(gy)
        })
        .map(|(a, _)| a)
}

/// The left-hand rule: facing `heading`, try left, straight, right, back.
fn wall_follow_move(level: &Level, cell: Cell, heading: Action) -> Option<Action> {
    let (left, right, back) = match heading {
        Action::Up => (Action::Left, Action::Right, Action::Down),
        Action::Down => (Action::Right, Action::Left, Action::Up),
        Action::Left => (Action::Down, Action::Up, Action::Right),
        _ => (Action::Up, Action::Down, Action::Left),
    };
    [left, heading, right, back]
        .into_iter()
        .find(|&a| level.neighbour(cell, a).is_some_and(|n| level.tile(n) != mesascope_tasks::grid::Tile::Wall))
}

/// Scores the recorded actions of `episodes` (played on `levels`) at decision points.
pub fn planner_agreement(levels: &[Level], episodes: &[EpisodeRecord]) -> PlannerAgreement {
    let (mut planner, mut greedy, mut wall) = (Vec::new(), Vec::new(), Vec::new());
    for ep in episodes {
        let level = &levels[ep.level];
        let Some(goal) = level.goal_cell() else { continue };
        let dist = distance_map(level, goal);
        let mut s = reset(level);
        // Facing right at the start: the bottom-left start's open directions are up and right.
        let mut heading = Action::Right;
        for &a in &ep.actions {
            let here = dist[s.agent as usize];
            if here != u32::MAX && here > 0 {
                let on_path = |m: Action| level.neighbour(s.agent, m).is_some_and(|n| dist[n as usize] < here);
                let g = greedy_move(level, s.agent, goal);
                let w = wall_follow_move(level, s.agent, heading);
                if !g.is_some_and(on_path) || !w.is_some_and(on_path) {
                    planner.push(on_path(a) as u8 as f64);
                    greedy.push((Some(a) == g) as u8 as f64);
                    wall.push((Some(a) == w) as u8 as f64);
                }
            }
            let before = s.agent;
            step(level, &mut s, a);
            if s.agent != before {
                heading = a;
            }
        }
    }
    PlannerAgreement { decision_points: planner.len(), planner: mean_ci(&planner), greedy: mean_ci(&greedy), wall_follow: mean_ci(&wall) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{play_policy, CornerSeeker};
    use mesascope_tasks::{Diversity, FamilySpec, GoalPlacement, MazeParams, ShortestPathToGoal};

    fn dist(goal: GoalPlacement) -> TrainingDistribution {
        TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 9, goal, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 }
    }

    #[test]
    fn the_planner_agrees_with_itself_and_heuristics_do_not() {
        let levels = dist(GoalPlacement::Anywhere).held_out_levels(Shift::None, 60, 1).unwrap();
        let eps = play_policy(&mut ShortestPathToGoal::default(), &levels);
        let agreement = planner_agreement(&levels, &eps);
        assert!(agreement.decision_points > 50, "{agreement:?}");
        assert_eq!(agreement.planner.mean, 1.0);
        // By construction at least one heuristic is wrong at every decision point.
        assert!(agreement.greedy.mean < 1.0 && agreement.wall_follow.mean < 1.0, "{agreement:?}");
        // The corner seeker leaves the shortest path to the cheese when it is not on its way.
        let corner = planner_agreement(&levels, &play_policy(&mut CornerSeeker::default(), &levels));
        assert!(corner.planner.hi < 0.9, "{corner:?}");
    }

    #[test]
    fn retargeting_levels_avoid_every_trained_goal_cell() {
        let d = dist(GoalPlacement::TopRight(3));
        let sample = d.held_out_levels(Shift::None, 300, 5).unwrap();
        let trained = training_goal_cells(&d, &sample).unwrap();
        assert!(!trained.is_empty() && trained.len() <= 9, "{trained:?}");
        let levels = retargeting_levels(&d, &trained, 40, 3).unwrap().unwrap();
        assert!(levels.iter().all(|l| !trained.contains(&l.goal_cell().unwrap())));
        // Training on goals anywhere leaves no cell unused.
        let anywhere = dist(GoalPlacement::Anywhere);
        let sample = anywhere.held_out_levels(Shift::None, 2000, 5).unwrap();
        let trained = training_goal_cells(&anywhere, &sample).unwrap();
        assert!(retargeting_levels(&anywhere, &trained, 40, 3).unwrap().is_none());
    }
}
