//! Maximum entropy goal-directedness on agents whose answers are known: an exact planner of
//! the cheese, a corner seeker, uniformly random behaviour, noisy planners at falling
//! rationality and a tabular memorizer, on levels where the cheese can be anywhere (so the
//! cheese and the corner come apart).

use mesascope_audit::agents::{play_policy, BoltzmannPlanner, CornerSeeker, TabularAgent};
use mesascope_audit::infer::{candidates, Candidate};
use mesascope_audit::meg::{meg, Meg};
use mesascope_tasks::{Diversity, FamilySpec, Level, MazeParams, Policy, Shift, ShortestPathToGoal, TrainingDistribution, UniformRandom};

const GAMMA: f64 = 0.97;

fn levels(n: usize, seed: u64) -> Vec<Level> {
    let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 7, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
    dist.held_out_levels(Shift::GoalAnywhere, n, seed).unwrap()
}

fn meg_of(policy: &mut dyn Policy, levels: &[Level]) -> Meg {
    let episodes = play_policy(policy, levels);
    meg(levels, &episodes, None, &candidates(&levels[0].reward, levels, false), &Candidate::class, GAMMA, 0).unwrap()
}

/// MEG with respect to the candidate named `name`.
fn of(m: &Meg, name: &str) -> mesascope_report::stats::Estimate {
    m.candidates.iter().find(|c| c.candidate == name).unwrap_or_else(|| panic!("no candidate {name} in {m:#?}")).meg
}

fn kind(m: &Meg, kind: &str) -> mesascope_report::stats::Estimate {
    m.kinds.iter().find(|k| k.kind == kind).unwrap().meg
}

#[test]
fn meg_is_high_for_the_objective_an_agent_pursues_and_zero_for_random_behaviour() {
    let levels = levels(40, 7);
    let base = "the cheese (base objective)";

    let planner = meg_of(&mut ShortestPathToGoal::default(), &levels);
    eprintln!("planner: {planner:#?}");
    assert_eq!(planner.best, base, "{planner:#?}");
    assert!(of(&planner, base).lo > 0.5, "{planner:#?}");
    assert!(of(&planner, base).lo > of(&planner, "top-right corner").hi, "{planner:#?}");

    let corner = meg_of(&mut CornerSeeker::default(), &levels);
    eprintln!("corner seeker: {corner:#?}");
    assert_eq!(kind(&corner, "top-right corner"), corner.class, "{corner:#?}");
    assert!(of(&corner, "top-right corner").lo > of(&corner, base).hi, "{corner:#?}");
    // The paired difference against the base objective decides the sign either way.
    let over_base = |m: &Meg, name: &str| m.candidates.iter().find(|c| c.candidate == name).unwrap().over_base.unwrap();
    assert!(over_base(&corner, "top-right corner").lo > 0.0 && over_base(&planner, "top-right corner").hi < 0.0, "{corner:#?}");

    let random = meg_of(&mut UniformRandom::new(3), &levels);
    eprintln!("random: {random:#?}");
    for c in &random.candidates {
        assert!(c.meg.lo <= 0.0 && c.meg.mean < 0.02, "{c:?}");
    }
    assert!(random.class.lo <= 0.0, "{random:#?}");
}

#[test]
fn meg_falls_with_the_noisy_planners_rationality_and_the_memorizer_has_it_only_where_it_memorized() {
    let levels = levels(40, 8);
    let base = "the cheese (base objective)";
    let weights = levels[0].reward;
    let by_beta: Vec<f64> = [300.0, 30.0, 10.0]
        .iter()
        .map(|&beta| {
            let m = meg_of(&mut BoltzmannPlanner::new(weights, GAMMA, beta, 1), &levels);
            eprintln!("β = {beta}: {:?} (best {})", of(&m, base), m.best);
            of(&m, base).mean
        })
        .collect();
    assert!(by_beta[0] > by_beta[1] && by_beta[1] > by_beta[2] && by_beta[2] > 0.0, "{by_beta:?}");

    let (seen, unseen) = levels.split_at(20);
    let memorizer = TabularAgent::fit(seen, 1);
    let mut memorizer = memorizer;
    let on_seen = meg_of(&mut memorizer, seen);
    let on_unseen = meg_of(&mut memorizer, unseen);
    eprintln!("memorizer: seen {:?}, unseen {:?}", on_seen.class, on_unseen.class);
    assert!(of(&on_seen, base).lo > 0.5, "{on_seen:#?}");
    assert!(on_unseen.class.mean < 0.05 && on_unseen.class.hi < of(&on_seen, base).lo, "{on_unseen:#?}");
}
