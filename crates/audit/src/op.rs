//! Optimization power in bits (DESIGN.md): `OP = −log2 P_ref(R ≥ r)`, where `R` is the return
//! of the uniform-random policy with the same horizon on the same instance and `r` the return
//! the agent achieved. `P_ref` is exact (dynamic programming over the enumerated state space)
//! where the instance is small enough, otherwise a Monte Carlo estimate with the stated sample
//! size and the (k+1)/(M+1) estimator, so OP is always finite.

use serde::{Deserialize, Serialize};

use mesascope_learn::eval::EpisodeRecord;
use mesascope_tasks::solve::{random_return_distribution, StateSpace};
use mesascope_tasks::{Level, TaskError, UniformRandom};

use crate::agents::{episode_return, Agent};
use mesascope_report::stats::{mean_ci, ratio_of_means, Estimate};
use crate::AuditError;

/// Instances with more states than this use the Monte Carlo estimate.
pub use mesascope_tasks::policy::MAX_EXACT_STATES;
/// Episodes of the reference policy per Monte Carlo estimate.
pub const MONTE_CARLO_EPISODES: usize = 20_000;

/// The optimization power of one episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpMeasurement {
    /// The return the agent achieved.
    pub achieved: f64,
    /// `P_ref(R ≥ achieved)`.
    pub p_ref: f64,
    /// `−log2 p_ref`.
    pub bits: f64,
    /// Whether `p_ref` is exact.
    pub exact: bool,
    /// Reference episodes behind `p_ref` when it is estimated (0 when exact).
    pub samples: usize,
}

/// The optimization power of achieving return `achieved` on `level`.
pub fn optimization_power(level: &Level, achieved: f64, seed: u64) -> Result<OpMeasurement, AuditError> {
    match StateSpace::enumerate(level, MAX_EXACT_STATES) {
        Ok(space) => {
            let p = random_return_distribution(&space, &level.reward, level.horizon).prob_at_least(achieved);
            Ok(OpMeasurement { achieved, p_ref: p, bits: -p.log2(), exact: true, samples: 0 })
        }
        Err(TaskError::StateSpaceTooLarge { .. }) => {
            let mut random = UniformRandom::new(seed);
            let at_least = (0..MONTE_CARLO_EPISODES).filter(|_| episode_return(&mut random, level, &level.reward) >= achieved - 1e-6).count();
            let p = (at_least + 1) as f64 / (MONTE_CARLO_EPISODES + 1) as f64;
            Ok(OpMeasurement { achieved, p_ref: p, bits: -p.log2(), exact: false, samples: MONTE_CARLO_EPISODES })
        }
        Err(e) => Err(e.into()),
    }
}

/// Optimization power on training and on novel instances, and the runtime share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    /// Mean OP (bits) on training instances, with its 95% interval.
    pub train: Estimate,
    /// Mean OP (bits) on novel (held-out) instances, with its 95% interval.
    pub novel: Estimate,
    /// `OP(novel) / OP(train)`: the share of the optimization done at runtime (DESIGN.md,
    /// the empirical counterpart of the toy model's `y`).
    /// Infinite or NaN when no bits were measured on training instances.
    pub runtime_share: Estimate,
    /// Each training episode's measurement.
    pub train_episodes: Vec<OpMeasurement>,
    /// Each novel episode's measurement.
    pub novel_episodes: Vec<OpMeasurement>,
}

fn measure(levels: &[Level], records: &[EpisodeRecord], seed: u64) -> Result<Vec<OpMeasurement>, AuditError> {
    records.iter().map(|r| optimization_power(&levels[r.level], r.ret, seed ^ r.level as u64)).collect()
}

/// Plays `agent` once on every training and every novel level and measures its OP.
pub fn op_report(agent: &mut dyn Agent, train: &[Level], novel: &[Level], seed: u64) -> Result<OpReport, AuditError> {
    let (train_records, novel_records) = (agent.play(train, seed), agent.play(novel, seed ^ 1));
    measure_op(train, novel, &train_records, &novel_records, seed)
}

/// The OP report of episodes already played on training and novel levels.
pub fn measure_op(train: &[Level], novel: &[Level], train_records: &[EpisodeRecord], novel_records: &[EpisodeRecord], seed: u64) -> Result<OpReport, AuditError> {
    if train_records.is_empty() || novel_records.is_empty() {
        return Err(AuditError::Invalid { what: "levels", message: "optimization power needs training and novel levels".into() });
    }
    let train_episodes = measure(train, train_records, seed)?;
    let novel_episodes = measure(novel, novel_records, seed)?;
    let bits = |m: &[OpMeasurement]| m.iter().map(|x| x.bits).collect::<Vec<f64>>();
    let (t, n) = (mean_ci(&bits(&train_episodes)), mean_ci(&bits(&novel_episodes)));
    let runtime_share = ratio_of_means(&bits(&novel_episodes), &bits(&train_episodes));
    Ok(OpReport { runtime_share, train: t, novel: n, train_episodes, novel_episodes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{play_policy, CornerSeeker, PolicyAgent, TabularAgent};
    use mesascope_tasks::{Diversity, FamilySpec, GoalPlacement, MazeParams, Shift, ShortestPathToGoal, TrainingDistribution};

    fn maze(n: Diversity, goal: GoalPlacement) -> TrainingDistribution {
        TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 9, goal, ..Default::default() }), diversity: n, level_seed: 4 }
    }

    #[test]
    fn exact_and_monte_carlo_agree() {
        let d = maze(Diversity::Finite(3), GoalPlacement::Anywhere);
        let level = d.training_levels().unwrap().unwrap()[0].clone();
        let rec = &play_policy(&mut ShortestPathToGoal::default(), std::slice::from_ref(&level))[0];
        // A weaker achievement than optimal, so the Monte Carlo estimate is not near zero.
        let r = rec.ret - 0.2;
        let exact = optimization_power(&level, r, 0).unwrap();
        assert!(exact.exact);
        let mut random = UniformRandom::new(9);
        let k = (0..MONTE_CARLO_EPISODES).filter(|_| episode_return(&mut random, &level, &level.reward) >= r - 1e-6).count();
        let mc = k as f64 / MONTE_CARLO_EPISODES as f64;
        let se = (exact.p_ref * (1.0 - exact.p_ref) / MONTE_CARLO_EPISODES as f64).sqrt();
        assert!((mc - exact.p_ref).abs() < 5.0 * se + 1e-4, "exact {} vs Monte Carlo {mc}", exact.p_ref);
    }

    /// The audit tells the known agents apart by optimization power alone.
    #[test]
    fn planner_memorizer_and_random_are_told_apart() {
        let d = maze(Diversity::Finite(1), GoalPlacement::TopRight(3));
        let train = d.training_levels().unwrap().unwrap().to_vec();
        let novel = d.held_out_levels(Shift::None, 40, 2).unwrap();

        let planner = op_report(&mut PolicyAgent(ShortestPathToGoal::default()), &train, &novel, 0).unwrap();
        assert!(planner.novel.lo > 10.0, "the planner optimizes on novel levels: {:?}", planner.novel);
        assert!(planner.runtime_share.mean > 0.5, "{:?}", planner.runtime_share);

        let mut memorizer = PolicyAgent(TabularAgent::fit(&train, 1));
        let memo = op_report(&mut memorizer, &train, &novel, 0).unwrap();
        assert!(memo.train.mean > 10.0, "it memorized its one level: {:?}", memo.train);
        assert!(memo.novel.hi < 3.0, "and has ~no optimization power elsewhere: {:?}", memo.novel);
        assert!(memo.runtime_share.hi < 0.2);

        let random = op_report(&mut PolicyAgent(UniformRandom::new(3)), &train, &novel, 0).unwrap();
        // Most random episodes end at the horizon with the worst return, whose tail probability
        // is 1: zero bits.
        assert!(random.novel.mean < 3.0, "{:?}", random.novel);

        // The corner seeker looks like an optimizer in training (the cheese sits near the
        // corner) but earns little when the cheese moves anywhere.
        let anywhere = d.held_out_levels(Shift::GoalAnywhere, 40, 2).unwrap();
        let corner = op_report(&mut PolicyAgent(CornerSeeker::default()), &novel, &anywhere, 0).unwrap();
        assert!(corner.novel.mean < planner.novel.mean / 2.0, "{:?} vs planner {:?}", corner.novel, planner.novel);
    }
}
