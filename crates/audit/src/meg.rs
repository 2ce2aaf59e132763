//! Maximum entropy goal-directedness (MEG; MacDermott, Fox, Belardinelli & Everitt, "Measuring
//! Goal-Directedness", NeurIPS 2024), in nats per decision (DESIGN.md).
//!
//! MEG asks how well an objective *predicts* an agent: of all the policies that pursue the
//! objective with as little commitment as possible (the maximum-entropy, soft-optimal policies,
//! one per rationality `β`), take the one that predicts the agent's choices best, and measure
//! by how much its log-likelihood beats uniformly random choice. An agent that does what the
//! objective asks scores up to `ln k` per decision among `k` choices; one whose choices the
//! objective does not explain scores 0, because `β = 0` (uniform choice) is always among the
//! policies compared. For a set of objectives, MEG is the largest of theirs.
//!
//! The levels are small and fully known, so the soft-optimal policies are exact: soft value
//! iteration per level and `β`. Choices are the distinct successors of a state (staying and
//! bumping into a wall are one choice), as in objective inference, and the soft-optimal policy
//! is regularised towards the uniform choice (relative entropy to it), which is the paper's
//! entropy wherever every state offers the same number of choices and makes the indifferent
//! objective's soft-optimal policy exactly uniform, whatever `β`.

use serde::{Deserialize, Serialize};

use mesascope_learn::eval::EpisodeRecord;
use mesascope_report::stats::{bootstrap, resample, Estimate, RESAMPLES};
use mesascope_tasks::solve::{StateSpace, TERMINAL};
use mesascope_tasks::{reset, step, Action, Level};

use crate::agents::ActionDistributions;
use crate::infer::{episode_state_space, Candidate};
use crate::AuditError;

/// Grid points per decade of `β`.
const BETA_PER_DECADE: i32 = 4;
/// The grid's smallest and largest positive `β`, as powers of ten. Q-differences on our
/// levels run from ~0.01 (a step's cost) to ~30 (a rewarded tile held forever), so `β` from
/// 0.01 to 10⁴ spans uniform to exact choice.
const BETA_DECADES: (i32, i32) = (-2, 4);
/// Soft value iteration stops when no state's `β·V` changes by more than this (nats).
const SOFT_TOLERANCE: f64 = 1e-7;
/// Soft value iteration's limit on sweeps.
const MAX_SWEEPS: usize = 100_000;

/// The rationalities compared: 0 (uniform choice) and a log-spaced grid.
pub fn beta_grid() -> Vec<f64> {
    let (lo, hi) = BETA_DECADES;
    std::iter::once(0.0).chain((lo * BETA_PER_DECADE..=hi * BETA_PER_DECADE).map(|k| 10f64.powf(k as f64 / BETA_PER_DECADE as f64))).collect()
}

/// MEG with respect to one candidate objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateMeg {
    /// The candidate's name (as in objective inference).
    pub candidate: String,
    /// Its kind ([`Candidate::class`]).
    pub kind: String,
    /// Nats per decision, with a bootstrap interval over episodes (`n` = episodes).
    pub meg: Estimate,
    /// The rationality of the soft-optimal policy that predicts the agent best.
    pub beta: f64,
    /// This candidate's MEG minus the base objective's, with a paired bootstrap interval (the
    /// same resampled episodes for both, each maximised over `β` afresh); `None` for the base
    /// objective itself or where there is none. An interval wholly above 0 says the candidate
    /// explains the agent better than the base objective does.
    #[serde(default)]
    pub over_base: Option<Estimate>,
}

/// MEG with respect to the candidates of one kind (the largest of theirs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindMeg {
    /// The kind, as in objective inference.
    pub kind: String,
    /// Nats per decision, with a bootstrap interval over episodes.
    pub meg: Estimate,
}

/// Maximum entropy goal-directedness of an agent's episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meg {
    /// MEG with respect to each candidate objective, in candidate order.
    pub candidates: Vec<CandidateMeg>,
    /// MEG with respect to each kind of objective, in order of first appearance.
    pub kinds: Vec<KindMeg>,
    /// MEG with respect to the whole candidate set: the largest candidate's, its interval
    /// taking the maximum afresh on every resample.
    pub class: Estimate,
    /// The candidate that attains `class`.
    pub best: String,
    /// Episodes scored.
    pub episodes: usize,
    /// Decisions scored.
    pub decisions: usize,
    /// Episodes skipped because their level's state space was too large to solve exactly.
    pub skipped: usize,
    /// Whether each decision was scored by its expectation under the agent's own action
    /// probabilities (true) or by the action it sampled (false).
    pub expected_under_policy: bool,
    /// Discount of the soft values.
    pub gamma: f64,
}

/// One scored decision: the state, which actions are the first of their transition (one per
/// distinct successor), and the weight the agent put on each (indexed by that first action).
struct Decision {
    state: usize,
    weight: [f64; Action::COUNT],
}

/// Which actions of each state are the first with their transition.
fn choice_sets(space: &StateSpace) -> Vec<[bool; Action::COUNT]> {
    space.edges.iter().map(|edges| std::array::from_fn(|b| (0..b).all(|o| edges[o] != edges[b]))).collect()
}

/// The first action with the same transition as `a` in `state`.
fn first_of(space: &StateSpace, state: usize, a: usize) -> usize {
    let edges = &space.edges[state];
    (0..Action::COUNT).find(|&o| edges[o] == edges[a]).unwrap_or(a)
}

/// Soft value iteration at `β > 0`, regularised towards uniform choice:
/// `Q(s,a) = r(s,a) + γ·V(s')` (`V = 0` after a terminal transition) and
/// `V(s) = (1/β)·ln mean_{a ∈ K(s)} exp(β·Q(s,a))` over the choice set `K(s)`. In place over
/// `v` (Gauss–Seidel), starting from what `v` holds, so a grid solved in ascending `β` starts
/// each solve near its answer.
fn soft_values(space: &StateSpace, rewards: &[[f64; Action::COUNT]], choices: &[[bool; Action::COUNT]], gamma: f64, beta: f64, v: &mut [f64]) {
    for _ in 0..MAX_SWEEPS {
        let mut delta: f64 = 0.0;
        for s in 0..space.len() {
            let q = q_row(space, rewards, v, gamma, s);
            let new = soft_max(&q, &choices[s], beta) / beta;
            delta = delta.max(beta * (new - v[s]).abs());
            v[s] = new;
        }
        if delta <= SOFT_TOLERANCE {
            return;
        }
    }
}

/// `Q(s, ·)` from the values `v`.
fn q_row(space: &StateSpace, rewards: &[[f64; Action::COUNT]], v: &[f64], gamma: f64, s: usize) -> [f64; Action::COUNT] {
    std::array::from_fn(|a| {
        let next = space.edges[s][a].next;
        rewards[s][a] + if next == TERMINAL { 0.0 } else { gamma * v[next as usize] }
    })
}

/// `ln mean_{a ∈ K} exp(β·q[a])`, computed stably.
fn soft_max(q: &[f64; Action::COUNT], choices: &[bool; Action::COUNT], beta: f64) -> f64 {
    let top = (0..Action::COUNT).filter(|&a| choices[a]).map(|a| beta * q[a]).fold(f64::NEG_INFINITY, f64::max);
    let (sum, k) = (0..Action::COUNT).filter(|&a| choices[a]).fold((0.0, 0.0), |(sum, k), a| (sum + (beta * q[a] - top).exp(), k + 1.0));
    top + (sum / k).ln()
}

/// Checks that `dists` has one distribution per recorded step of every episode.
fn check_distributions(episodes: &[EpisodeRecord], dists: &ActionDistributions) -> Result<(), AuditError> {
    let invalid = |message: String| AuditError::Invalid { what: "action distributions", message };
    if dists.len() != episodes.len() {
        return Err(invalid(format!("{} episodes but distributions for {}", episodes.len(), dists.len())));
    }
    for (e, (ep, d)) in episodes.iter().zip(dists).enumerate() {
        if d.len() != ep.actions.len() {
            return Err(invalid(format!("episode {e} has {} actions but {} distributions", ep.actions.len(), d.len())));
        }
        if let Some((t, p)) = d.iter().enumerate().find(|(_, p)| p.iter().any(|x| !x.is_finite() || *x < 0.0) || (p.iter().sum::<f64>() - 1.0).abs() > 1e-4) {
            return Err(invalid(format!("episode {e}, step {t}: {p:?} is not a probability distribution")));
        }
    }
    Ok(())
}

/// MEG of the agent behind `episodes` (each played on `levels[episode.level]`, with recorded
/// actions) with respect to each of `candidates`, each kind of them (`kind` names a
/// candidate's: [`Candidate::class`], or the verdict's kinds from
/// [`crate::infer::Inference::kind_of`], so that both say the same), and the whole set, with
/// soft values discounted by `gamma`. Where `distributions` are given (one per recorded step,
/// see [`crate::agents::Agent::play_with_distributions`]) each decision is scored by its
/// expectation under the agent's policy, else by the action taken. Intervals resample
/// episodes, seeded by `seed`.
pub fn meg(levels: &[Level], episodes: &[EpisodeRecord], distributions: Option<&ActionDistributions>, candidates: &[Candidate], kind: &dyn Fn(&Candidate) -> String, gamma: f64, seed: u64) -> Result<Meg, AuditError> {
    if candidates.is_empty() {
        return Err(AuditError::Invalid { what: "candidates", message: "MEG needs at least one candidate objective".into() });
    }
    if !(0.0..1.0).contains(&gamma) {
        return Err(AuditError::Invalid { what: "gamma", message: format!("{gamma} must be in [0, 1)") });
    }
    if let Some(d) = distributions {
        check_distributions(episodes, d)?;
    }
    let betas = beta_grid();
    let width = candidates.len() * betas.len();
    // scores[e][c·|grid| + j]: the episode's summed log-likelihood ratio against uniform choice
    // under candidate c's soft-optimal policy at grid β j; counts[e]: its decisions.
    let mut scores: Vec<Vec<f64>> = Vec::new();
    let mut counts: Vec<f64> = Vec::new();
    let mut skipped = 0;
    for (e, ep) in episodes.iter().enumerate() {
        let Some((level, space)) = episode_state_space(levels, ep, "MEG")? else {
            skipped += 1;
            continue;
        };
        let choices = choice_sets(&space);
        let mut decisions = Vec::with_capacity(ep.actions.len());
        let mut s = reset(level);
        for (t, &a) in ep.actions.iter().enumerate() {
            let state = space.index_of(&s).ok_or(AuditError::Invalid { what: "episode", message: "replayed state not in the level's state space".into() })? as usize;
            let mut weight = [0.0; Action::COUNT];
            match distributions {
                Some(d) => (0..Action::COUNT).for_each(|b| weight[first_of(&space, state, b)] += d[e][t][b]),
                None => weight[first_of(&space, state, a.index())] = 1.0,
            }
            decisions.push(Decision { state, weight });
            step(level, &mut s, a);
        }
        let mut row = vec![0.0; width];
        for (c, cand) in candidates.iter().enumerate() {
            let rewards: Vec<[f64; Action::COUNT]> = space.edges.iter().map(|edges| edges.map(|e| cand.weights.reward(e.features) as f64)).collect();
            let mut v = vec![0.0; space.len()];
            // β = 0 is uniform choice: its score is 0 and stays so.
            for (j, &beta) in betas.iter().enumerate().skip(1) {
                soft_values(&space, &rewards, &choices, gamma, beta, &mut v);
                row[c * betas.len() + j] = decisions
                    .iter()
                    .map(|d| {
                        let q = q_row(&space, &rewards, &v, gamma, d.state);
                        let norm = soft_max(&q, &choices[d.state], beta);
                        (0..Action::COUNT).filter(|&k| d.weight[k] > 0.0).map(|k| d.weight[k] * (beta * q[k] - norm)).sum::<f64>()
                    })
                    .sum();
            }
        }
        scores.push(row);
        counts.push(decisions.len() as f64);
    }

    // The best (candidate, β) among `members` on the episodes `picks`: nats per decision.
    let best = |picks: &mut dyn Iterator<Item = usize>, members: &[usize]| -> (f64, usize, usize) {
        let mut total = vec![0.0; width];
        let mut n = 0.0;
        for e in picks {
            n += counts[e];
            for &c in members {
                for j in 0..betas.len() {
                    total[c * betas.len() + j] += scores[e][c * betas.len() + j];
                }
            }
        }
        let mut top = (f64::NEG_INFINITY, members[0], 0);
        for &c in members {
            for j in 0..betas.len() {
                if total[c * betas.len() + j] / n > top.0 {
                    top = (total[c * betas.len() + j] / n, c, j);
                }
            }
        }
        top
    };
    let episodes_scored = scores.len();
    // Every statistic resamples the same episodes (one seed), so on every resample the whole
    // set's MEG is the largest of its candidates'.
    let estimate = |members: &[usize]| -> (Estimate, usize, usize) {
        if episodes_scored == 0 || counts.iter().sum::<f64>() == 0.0 {
            return (Estimate { mean: f64::NAN, lo: f64::NAN, hi: f64::NAN, n: episodes_scored }, members[0], 0);
        }
        let (mean, c, j) = best(&mut (0..episodes_scored), members);
        let (lo, hi) = bootstrap(RESAMPLES, seed, |rng| best(&mut resample(rng, episodes_scored), members).0);
        (Estimate { mean, lo, hi, n: episodes_scored }, c, j)
    };
    let base = candidates.iter().position(|c| c.is_base);
    let over_base = |c: usize| -> Option<Estimate> {
        let b = base.filter(|&b| b != c && episodes_scored > 0)?;
        let difference = |picks: &[usize]| best(&mut picks.iter().copied(), &[c]).0 - best(&mut picks.iter().copied(), &[b]).0;
        let all: Vec<usize> = (0..episodes_scored).collect();
        let (lo, hi) = bootstrap(RESAMPLES, seed, |rng| difference(&resample(rng, episodes_scored).collect::<Vec<_>>()));
        Some(Estimate { mean: difference(&all), lo, hi, n: episodes_scored })
    };
    let per_candidate = candidates
        .iter()
        .enumerate()
        .map(|(c, cand)| {
            let (meg, _, j) = estimate(&[c]);
            CandidateMeg { candidate: cand.name.clone(), kind: kind(cand), meg, beta: betas[j], over_base: over_base(c) }
        })
        .collect();
    let kind_names: Vec<String> = candidates.iter().map(kind).collect();
    let mut kinds: Vec<String> = Vec::new();
    for k in &kind_names {
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    let kinds = kinds
        .into_iter()
        .map(|kind| {
            let members: Vec<usize> = (0..candidates.len()).filter(|&c| kind_names[c] == kind).collect();
            KindMeg { meg: estimate(&members).0, kind }
        })
        .collect();
    let all: Vec<usize> = (0..candidates.len()).collect();
    let (class, c, _) = estimate(&all);
    Ok(Meg {
        candidates: per_candidate,
        kinds,
        class,
        best: candidates[c].name.clone(),
        episodes: episodes_scored,
        decisions: counts.iter().sum::<f64>() as usize,
        skipped,
        expected_under_policy: distributions.is_some(),
        gamma,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesascope_tasks::grid::{Object, ObjectKind, Tile};
    use mesascope_tasks::solve::value_iteration;
    use mesascope_tasks::{Feature, RewardWeights};

    /// `#AC#`: one step right reaches the cheese; the other four actions keep the agent put.
    fn one_step() -> Level {
        Level {
            width: 4,
            height: 1,
            tiles: "#AC#".chars().map(|c| if c == '#' { Tile::Wall } else { Tile::Floor }).collect(),
            objects: vec![Object { kind: ObjectKind::Cheese, cell: 2 }],
            start: 1,
            horizon: 20,
            reward: RewardWeights::only(Feature::AtGoal, 1.0),
            rules: Default::default(),
        }
    }

    fn cheese() -> Candidate {
        Candidate { name: "the cheese".into(), weights: RewardWeights::only(Feature::AtGoal, 1.0), is_base: true, proxy: None }
    }

    fn indifferent() -> Candidate {
        Candidate { name: "indifferent".into(), weights: RewardWeights::ZERO, is_base: false, proxy: None }
    }

    /// One episode on `one_step` that steps right, with the agent's probability `p` of doing so
    /// spread as given over the actions.
    fn stepping_right(level: &Level, dist: [f64; Action::COUNT]) -> (Vec<EpisodeRecord>, ActionDistributions) {
        let mut record = EpisodeRecord::start(0, level, true);
        let mut s = reset(level);
        let tr = step(level, &mut s, Action::Right);
        record.add(Action::Right, &tr, &s, true);
        (vec![record], vec![vec![dist]])
    }

    #[test]
    fn meg_of_one_binary_choice_is_ln2_minus_the_choice_entropy() {
        // With γ = 0, the choice is between staying (Q = 0) and the cheese (Q = 1): the
        // soft-optimal policy goes right with probability σ(β), and an agent that goes right
        // with probability p is best predicted at σ(β) = p, scoring ln 2 − H(p) nats. With
        // p = σ(1) the best β is 1, a grid point.
        let level = one_step();
        let p = 1.0 / (1.0 + (-1f64).exp());
        let right = Action::Right.index();
        let dist: [f64; Action::COUNT] = std::array::from_fn(|a| if a == right { p } else { (1.0 - p) / 4.0 });
        let (eps, dists) = stepping_right(&level, dist);
        let m = meg(std::slice::from_ref(&level), &eps, Some(&dists), &[cheese(), indifferent()], &Candidate::class, 0.0, 0).unwrap();
        let expected = 2f64.ln() + p * p.ln() + (1.0 - p) * (1.0 - p).ln();
        assert!((m.candidates[0].meg.mean - expected).abs() < 1e-9, "{:?} vs {expected}", m.candidates[0]);
        assert_eq!(m.candidates[0].beta, 1.0);
        assert!(m.expected_under_policy && m.decisions == 1 && m.episodes == 1);
        // The indifferent objective's soft-optimal policy is uniform choice: exactly 0.
        assert_eq!(m.candidates[1].meg.mean, 0.0);
        assert_eq!((m.class.mean, m.best.as_str()), (m.candidates[0].meg.mean, "the cheese"));
        assert_eq!(m.candidates[0].over_base, None);
        assert!((m.candidates[1].over_base.unwrap().mean + expected).abs() < 1e-9, "{:?}", m.candidates[1]);
        // Scored by the sampled action (always right), the best policy is the most rational
        // ones on the grid: ln 2 − ln(1 + e^−β), ln 2 to double precision from β ≈ 40 on.
        let sampled = meg(std::slice::from_ref(&level), &eps, None, &[cheese()], &Candidate::class, 0.0, 0).unwrap();
        assert!((sampled.class.mean - 2f64.ln()).abs() < 1e-12 && sampled.candidates[0].beta > 30.0, "{sampled:?}");
        // An agent that prefers staying is not goal-directed towards the cheese (β ≥ 0).
        let (eps, dists) = stepping_right(&level, std::array::from_fn(|a| if a == right { 0.1 } else { 0.225 }));
        let away = meg(std::slice::from_ref(&level), &eps, Some(&dists), &[cheese()], &Candidate::class, 0.0, 0).unwrap();
        assert_eq!((away.class.mean, away.candidates[0].beta), (0.0, 0.0));
    }

    #[test]
    fn soft_values_become_hard_values_as_beta_grows_and_are_checked_for_bad_input() {
        // Staying put forever on the one-step level: V* = 1 with γ = 0.5 (go right at once).
        // Softly, V = (1/β)·ln((e^{βγV} + e^β)/2), which tends to 1 as β grows.
        let level = one_step();
        let space = StateSpace::enumerate(&level, 100).unwrap();
        let weights = RewardWeights::only(Feature::AtGoal, 1.0);
        let rewards: Vec<[f64; Action::COUNT]> = space.edges.iter().map(|edges| edges.map(|e| weights.reward(e.features) as f64)).collect();
        let hard = value_iteration(&space, &weights, 0.5, 1e-12, 1000).unwrap();
        let choices = choice_sets(&space);
        assert_eq!(choices[0].iter().filter(|&&c| c).count(), 2, "stay or go right");
        let mut v = vec![0.0; space.len()];
        for beta in [1.0, 10.0, 1e4] {
            soft_values(&space, &rewards, &choices, 0.5, beta, &mut v);
            // β·V = β + ln((e^{β(γV − 1)} + 1)/2), the fixed point written without overflow.
            let fixed = (beta + (((beta * (0.5 * v[0] - 1.0)).exp() + 1.0) / 2.0).ln()) / beta;
            assert!((beta * (v[0] - fixed)).abs() < 1e-6, "β={beta}: {} vs {fixed}", v[0]);
        }
        assert!((v[0] - hard.v[0]).abs() < 1e-3, "{} vs {}", v[0], hard.v[0]);
        // Distributions that do not match the episodes, or are no distributions, are refused.
        let (eps, _) = stepping_right(&level, [0.2; Action::COUNT]);
        let err = meg(std::slice::from_ref(&level), &eps, Some(&vec![]), &[cheese()], &Candidate::class, 0.5, 0).unwrap_err();
        assert!(err.to_string().contains("1 episodes but distributions for 0"), "{err}");
        let err = meg(std::slice::from_ref(&level), &eps, Some(&vec![vec![[0.5; Action::COUNT]]]), &[cheese()], &Candidate::class, 0.5, 0).unwrap_err();
        assert!(err.to_string().contains("not a probability distribution"), "{err}");
        assert!(meg(std::slice::from_ref(&level), &eps, None, &[], &Candidate::class, 0.5, 0).is_err());
        assert!(meg(std::slice::from_ref(&level), &eps, None, &[cheese()], &Candidate::class, 1.0, 0).is_err());
    }
}
