//! `mesascope-tasks` is the bottom layer of mesascope: the grid worlds that base optimizers
//! train on and that audits and guards probe. It owns the grid engine (walls, floor, lava,
//! cheese, keys, chests, coins, boxes, apples, shields and chasing monsters; pure `reset`/`step` functions over plain data), level ids,
//! locators and per-episode random streams (what makes any episode replayable), the task
//! families (each one module behind the [`Family`] interface, registered on one line in
//! [`dist`]) and their level generators, training distributions of a chosen diversity N with
//! held-out instances that provably never overlap them, the named shifts that make deployment
//! distributions, a batched allocation-free vector environment, exact solvers over a level's
//! enumerable state space (BFS, value iteration for any linear reward over named features, the
//! exact return distribution of the uniform-random policy), rendering to ASCII, SVG and PNG, and
//! policy vector fields (a policy's moves at every square, as arrows).
//! It depends on no machine-learning framework, so it builds fast and embeds anywhere.

#![warn(missing_docs)]

pub mod corridor;
pub mod dist;
pub mod error;
pub mod family;
pub mod field;
pub mod grid;
pub mod id;
pub mod keys_chests;
pub mod maze;
pub mod monster_shield;
pub mod policy;
pub mod render;
pub mod solve;
pub mod vecenv;

pub use dist::{Diversity, FamilySpec, LevelGenerator, LevelSource, Shift, Split, SplitRule, TrainingDistribution};
pub use error::TaskError;
pub use family::{Family, ProxyRole, Roles, ShiftInfo};
pub use id::{episode_seed, overlap, LevelId, LevelLocator, Overlap};
pub use grid::{reset, step, Action, Cell, Feature, FeatureSet, Level, RewardWeights, State, Status, Transition};
pub use corridor::{Corridor, CorridorParams};
pub use keys_chests::{KeysChests, KeysChestsParams};
pub use monster_shield::{MonsterShield, MonsterShieldParams};
pub use maze::{GoalPlacement, LavaPlacement, Maze, MazeParams, StartPlacement};
pub use policy::{OptimalPolicy, Policy, ShortestPathToGoal, UniformRandom};
pub use vecenv::{ObsKind, ObsScalar, VecEnv, VecEnvSnapshot};
