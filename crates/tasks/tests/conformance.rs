//! What every registered task family must do, run over the registry (`FAMILIES`): a family
//! added with its one registry line gets these tests without writing any.
//!
//! Each family is tested at its parameters' `Default` (the config layer's `[env]` defaults are
//! checked in `mesascope-learn`), with a few levels so the suite stays quick.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use mesascope_tasks::dist::{all_shifts, FAMILIES};
use mesascope_tasks::vecenv::write_observation;
use mesascope_tasks::{reset, step, Action, Diversity, FamilySpec, Feature, Level, LevelGenerator, ObsKind, Shift, Split, SplitRule, TrainingDistribution, VecEnv};

/// Every registered family at its default parameters.
fn families() -> Vec<FamilySpec> {
    FAMILIES.iter().map(|(name, _)| FamilySpec::from_name(name).unwrap()).collect()
}

fn distribution(family: FamilySpec, diversity: Diversity) -> TrainingDistribution {
    TrainingDistribution { family, diversity, level_seed: 5 }
}

/// Random rollouts (seeded) on `levels`: every transition's features, per level.
fn random_features(levels: &[Level], seed: u64) -> Vec<Vec<mesascope_tasks::FeatureSet>> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    levels
        .iter()
        .map(|level| {
            let mut s = reset(level);
            let mut fired = Vec::new();
            while !s.done() {
                fired.push(step(level, &mut s, Action::ALL[rng.random_range(0..Action::COUNT)]).features);
            }
            fired
        })
        .collect()
}

#[test]
fn the_registry_names_each_family_once_and_as_its_configs_do() {
    let names: HashSet<&str> = FAMILIES.iter().map(|f| f.0).collect();
    assert_eq!(names.len(), FAMILIES.len());
    for spec in families() {
        // The serde tag (the variant's kebab-cased name) is the family's name.
        let json = serde_json::to_value(spec).unwrap();
        assert_eq!(json["family"], spec.name());
        assert_eq!(serde_json::from_value::<FamilySpec>(json).unwrap(), spec);
        assert!(spec.version().starts_with(&format!("{}-v", spec.name())), "{}", spec.version());
        spec.validate().unwrap();
    }
    assert!(FamilySpec::from_name("zoo").unwrap_err().to_string().contains("unknown family 'zoo' (known: maze"));
}

#[test]
fn generation_is_deterministic_and_levels_are_well_formed() {
    for spec in families() {
        let draw = |seed| {
            let (mut gen, mut rng) = (LevelGenerator::default(), Pcg64Mcg::seed_from_u64(seed));
            (0..200)
                .map(|_| {
                    let mut level = mesascope_tasks::maze::empty_level();
                    gen.generate_into(&spec, &mut rng, &mut level);
                    level
                })
                .collect::<Vec<_>>()
        };
        let levels = draw(1);
        assert_eq!(levels, draw(1), "{}: the same seed makes the same levels", spec.name());
        assert_ne!(levels, draw(2), "{}", spec.name());
        for level in &levels {
            level.validate().unwrap_or_else(|e| panic!("{}: {e}", spec.name()));
            assert_eq!((level.width, level.height), spec.grid_size(), "{}", spec.name());
            assert_eq!(level.reward, spec.base_reward(), "{}: levels pay the base objective", spec.name());
        }
        assert_eq!(random_features(&levels, 3), random_features(&levels, 3), "{}: stepping is deterministic", spec.name());
    }
}

#[test]
fn levels_fire_only_declared_features() {
    for spec in families() {
        let declared = spec.features();
        let levels = distribution(spec, Diversity::Infinite).held_out_levels(Shift::None, 100, 0).unwrap();
        for fired in random_features(&levels, 7).into_iter().flatten() {
            for f in Feature::ALL {
                assert!(!fired.has(f) || declared.contains(&f), "{}: {} fired but is not declared", spec.name(), f.name());
            }
        }
        for f in Feature::ALL {
            assert!(spec.base_reward().weight(f) == 0.0 || declared.contains(&f), "{}: the base objective weighs undeclared {}", spec.name(), f.name());
        }
    }
}

#[test]
fn no_training_level_is_held_out_under_any_shift() {
    for spec in families() {
        let d = distribution(spec, Diversity::Finite(64));
        let pool = d.training_levels().unwrap().unwrap();
        let train: HashSet<u64> = pool.iter().map(Level::fingerprint).collect();
        let train_instances: HashSet<u64> = pool.iter().map(Level::instance_key).collect();
        let mut shifts = vec![Shift::None];
        shifts.extend(spec.shifts().iter().map(|s| s.shift));
        for shift in shifts {
            // A shift the default parameters cannot take says so; the others make held-out levels.
            let Ok(held_out) = d.held_out_levels(shift, 64, 1) else { continue };
            assert!(held_out.iter().all(|l| !train.contains(&l.fingerprint())), "{} under {}", spec.name(), shift.name());
            if spec.split_rule() == SplitRule::Instance {
                assert!(held_out.iter().all(|l| !train_instances.contains(&l.instance_key())), "{} under {}: no training instance is held out", spec.name(), shift.name());
            }
        }
    }
}

#[test]
fn the_instance_key_ignores_horizon_and_reward() {
    for spec in families() {
        for level in distribution(spec, Diversity::Infinite).held_out_levels(Shift::None, 50, 4).unwrap() {
            let longer = Level { horizon: level.horizon * 2, reward: level.reward.with(Feature::Step, -0.5), ..level.clone() };
            assert_eq!(longer.instance_key(), level.instance_key());
            assert_ne!(longer.fingerprint(), level.fingerprint(), "the id still tells them apart");
            assert_eq!(Split::by(SplitRule::Instance, &longer), Split::by(SplitRule::Instance, &level));
            if spec.split_rule() == SplitRule::Instance {
                assert_eq!(Split::of(&spec, &longer), Split::of(&spec, &level), "{}: a new horizon or reward keeps the split", spec.name());
            }
        }
    }
    // maze-v0 keeps its split by fingerprint (its pinned levels stay where they are).
    assert_eq!(FamilySpec::from_name("maze").unwrap().split_rule(), SplitRule::Fingerprint);
}

#[test]
fn shifts_apply_or_name_themselves() {
    for spec in families() {
        assert_eq!(Shift::None.apply(&spec).unwrap(), spec, "none changes nothing");
        for info in spec.shifts() {
            assert!(!info.help.is_empty());
            match info.shift.apply(&spec) {
                Ok(shifted) => {
                    shifted.validate().unwrap();
                    assert_eq!(shifted.name(), spec.name(), "a shift stays within its family");
                }
                Err(e) => assert!(e.to_string().contains(info.shift.name()), "{}: {e}", spec.name()),
            }
        }
        // A shift of another family is refused, naming the family's own.
        for (family, info) in all_shifts() {
            if family != spec.name() && !spec.shifts().iter().any(|s| s.shift == info.shift) {
                let e = info.shift.apply(&spec).unwrap_err().to_string();
                assert!(e.contains(&format!("the {} family has no shift '{}'", spec.name(), info.shift.name())), "{e}");
            }
        }
    }
}

#[test]
fn the_vector_env_observes_and_ends_as_the_engine_steps() {
    for spec in families() {
        let source = distribution(spec, Diversity::Infinite).source().unwrap();
        let mut env: VecEnv<f32> = VecEnv::new(source, 4, ObsKind::FullGrid, 9).unwrap();
        let (c, h, w) = env.obs_shape();
        let size = c * h * w;
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let mut scratch = vec![0.0f32; size];
        let mut successes = 0;
        for _ in 0..2000 {
            let actions: Vec<Action> = (0..4).map(|_| Action::ALL[rng.random_range(0..Action::COUNT)]).collect();
            // A twin of each env steps the engine itself: the env reports the same ends.
            let twins: Vec<_> = (0..4).map(|i| (env.levels()[i].clone(), env.states()[i])).collect();
            env.step(&actions).unwrap();
            for (i, (level, mut state)) in twins.into_iter().enumerate() {
                let tr = step(&level, &mut state, actions[i]);
                let ends = (env.successes()[i], env.catastrophes()[i], env.terminated()[i], env.truncated()[i]);
                assert_eq!(ends, (tr.success, tr.catastrophe, tr.terminated, tr.truncated), "{}: env {i}", spec.name());
                assert!(!tr.success || tr.terminated, "{}: a success ends the episode", spec.name());
                successes += tr.success as usize;
            }
            for i in 0..4 {
                write_observation(ObsKind::FullGrid, &env.levels()[i], &env.states()[i], &mut scratch);
                assert_eq!(&env.observations()[i * size..(i + 1) * size], &scratch[..], "{}: env {i}", spec.name());
            }
        }
        assert!(successes > 0, "{}: random behaviour succeeded at least once in 8,000 steps", spec.name());
    }
}

#[test]
fn roles_name_declared_features_and_the_goal_is_success() {
    for spec in families() {
        let (roles, declared) = (spec.roles(), spec.features());
        assert!(declared.contains(&roles.goal), "{}: the goal is declared", spec.name());
        for proxy in &roles.proxies {
            assert!(declared.contains(&proxy.feature) && proxy.feature != roles.goal && !proxy.metric.is_empty(), "{}: {:?}", spec.name(), proxy);
        }
        for w in &roles.aux_utilities {
            assert!(Feature::ALL.iter().all(|&f| w.weight(f) == 0.0 || declared.contains(&f)), "{}: an auxiliary utility weighs an undeclared feature", spec.name());
        }
        if let Some(shift) = roles.retarget {
            assert!(spec.shifts().iter().any(|s| s.shift == shift), "{}: retargets by a shift it declares", spec.name());
        }
        // Success is the goal firing, on every step of random play.
        let levels = distribution(spec, Diversity::Infinite).held_out_levels(Shift::None, 100, 5).unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(6);
        let mut successes = 0;
        for level in &levels {
            let mut s = reset(level);
            while !s.done() {
                let tr = step(level, &mut s, Action::ALL[rng.random_range(0..Action::COUNT)]);
                assert_eq!(tr.success, tr.features.has(roles.goal), "{}", spec.name());
                successes += tr.success as usize;
            }
        }
        assert!(successes > 0, "{}: random play succeeded somewhere", spec.name());
    }
}

