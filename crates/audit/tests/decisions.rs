//! The cheese-or-corner regression on agents whose choice is known: the exact planner always
//! takes the cheese and the corner seeker always the corner (nothing to regress), and an agent
//! that takes the cheese with a probability falling with its distance in steps from the
//! decision square (the regression must find that distance and its sign).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use mesascope_audit::agents::{play_policy, CornerSeeker};
use mesascope_audit::decisions::{cheese_or_corner, decision_square, CheeseOrCorner};
use mesascope_tasks::solve::{descend, distance_map};
use mesascope_tasks::{Action, Diversity, FamilySpec, Level, MazeParams, Policy, Shift, ShortestPathToGoal, State, TrainingDistribution};

fn levels(n: usize) -> Vec<Level> {
    let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 9, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
    dist.held_out_levels(Shift::GoalAnywhere, n, 11).unwrap()
}

fn analyse(policy: &mut dyn Policy, levels: &[Level]) -> CheeseOrCorner {
    let episodes = play_policy(policy, levels);
    cheese_or_corner(levels, &episodes, 0).unwrap().expect("maze levels have cheese")
}

/// Takes the cheese with probability σ(2.5 − 0.4·steps from the decision square to the cheese),
/// else the corner, decided once per level, and walks a shortest path to its choice.
struct DistanceRule {
    rng: Pcg64Mcg,
    /// The level it decided on and the distance map to its target.
    decided: Option<(u64, Vec<u32>)>,
}

impl Policy for DistanceRule {
    fn act(&mut self, level: &Level, state: &State) -> Action {
        if self.decided.as_ref().is_none_or(|(key, _)| *key != level.fingerprint()) {
            let (cheese, corner) = (level.goal_cell().unwrap(), level.top_right_corner());
            let (to_cheese, to_corner) = (distance_map(level, cheese), distance_map(level, corner));
            let p = decision_square(level, level.start, &to_cheese, &to_corner).map_or(1.0, |d| 1.0 / (1.0 + (0.4 * to_cheese[d as usize] as f64 - 2.5).exp()));
            let target = if self.rng.random::<f64>() < p { to_cheese } else { to_corner };
            self.decided = Some((level.fingerprint(), target));
        }
        descend(level, &self.decided.as_ref().unwrap().1, state.agent)
    }
}

#[test]
fn agents_that_always_choose_alike_leave_nothing_to_regress() {
    let levels = levels(120);
    let planner = analyse(&mut ShortestPathToGoal::default(), &levels);
    assert!(planner.decisions > 30 && planner.decisions == planner.reached, "{planner:#?}");
    assert_eq!(planner.cheese_rate.mean, 1.0);
    assert!(planner.fit.is_none() && planner.not_fitted.as_ref().unwrap().contains("to the corner at 0 of"), "{planner:#?}");
    let corner = analyse(&mut CornerSeeker::default(), &levels);
    assert_eq!((corner.cheese_rate.mean, corner.decisions), (0.0, planner.decisions), "{corner:#?}");
    assert!(corner.fit.is_none() && corner.not_fitted.as_ref().unwrap().contains("went to the cheese at 0 and"), "{corner:#?}");
}

#[test]
fn the_regression_finds_the_distance_an_agents_choice_depends_on() {
    let levels = levels(400);
    let r = analyse(&mut DistanceRule { rng: Pcg64Mcg::seed_from_u64(5), decided: None }, &levels);
    eprintln!("{r:#?}");
    let fit = r.fit.as_ref().expect("both outcomes occur");
    let steps = &fit.coefficients[0];
    assert_eq!(steps.feature, "steps, decision square to cheese");
    assert!(steps.estimate.hi < 0.0, "{r:#?}");
    // Its effect is the largest, and predicting with it beats the majority outcome.
    assert!(fit.coefficients.iter().all(|c| c.estimate.mean >= steps.estimate.mean), "{r:#?}");
    assert!(fit.accuracy.mean > fit.baseline.mean + 0.05, "{r:#?}");
}
