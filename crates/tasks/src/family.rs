//! The interface every task family implements, so that a family is one module plus one line
//! in the registry ([`crate::dist`]'s `families!`).
//!
//! A family only *generates* levels and *declares* what they hold: its parameters with their
//! `[env]` defaults, the features its levels can fire, its base objective and its named
//! shifts. Everything else — stepping, solving, splitting, observing, rendering — is the shared
//! engine's and reads the [`Level`] alone. The trait is static (associated types and
//! constants, `impl Rng`) rather than `dyn`: the registry's closed enum keeps the TOML and JSON
//! shape `family = "maze"` beside the family's fields, stays `Copy` and dispatches by `match`
//! on the reset path of a vector environment, and each family draws its own random numbers
//! exactly as it did before it became a plug-in.

use std::fmt;

use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dist::{Shift, SplitRule};
use crate::error::TaskError;
use crate::grid::{Feature, Level, RewardWeights};

/// A task family: one module that makes levels and says what their features mean.
pub trait Family: 'static {
    /// The value of `env.family` (and the stem of the family's Python id): `"maze"`.
    const NAME: &'static str;
    /// The set of levels the generator makes from given parameters and seed: `"maze-v0"`.
    /// Bumped whenever a generator change makes other levels.
    const VERSION: &'static str;
    /// One line for `mesascope tasks list`.
    const HELP: &'static str;
    /// Its `[env]` keys with their defaults and one-line help, as TOML lines without a
    /// table header: the defaults a config of this family starts from.
    const DEFAULT_TOML: &'static str;
    /// Its parameters (read with unknown fields denied).
    type Params: Copy + fmt::Debug + PartialEq + Default + Serialize + DeserializeOwned;
    /// Reusable buffers for making levels without allocating once warm.
    type Generator: Clone + fmt::Debug + Default;

    /// Checks every parameter, naming the first impossible one by its key.
    fn validate(p: &Self::Params) -> Result<(), TaskError>;
    /// Width and height of every level.
    fn grid_size(p: &Self::Params) -> (u16, u16);
    /// Writes one fresh level drawn from `rng` into `level`.
    fn generate_into(g: &mut Self::Generator, p: &Self::Params, rng: &mut impl Rng, level: &mut Level);
    /// The base objective: the reward its levels pay.
    fn base_reward(p: &Self::Params) -> RewardWeights;
    /// The features its levels can fire with these parameters: the only ones a reward may weigh.
    fn features(p: &Self::Params) -> Vec<Feature>;
    /// Its named shifts (`none`, every family's, is not listed).
    fn shifts() -> &'static [ShiftInfo];
    /// The parameters after `shift`, one of [`Family::shifts`] (the registry checks that
    /// before calling); an error names why this family's parameters cannot take it.
    fn shift(p: &Self::Params, shift: Shift) -> Result<Self::Params, TaskError>;
    /// What its features mean: the goal, the known proxies, the auxiliary utilities of
    /// attainable-utility impact and the retargeting shift.
    fn roles(p: &Self::Params) -> Roles;
    /// What decides which levels are held out: by instance unless the family's pinned levels
    /// need another rule.
    fn split_rule() -> SplitRule {
        SplitRule::Instance
    }
}

/// A shift's name and one line saying what it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShiftInfo {
    /// The shift.
    pub shift: Shift,
    /// What it changes, for `mesascope tasks list`.
    pub help: &'static str,
}

/// What a family's features mean, declared once, so that the audit, the guard and reports read
/// it instead of assuming cheese and corner.
#[derive(Clone, Debug, PartialEq)]
pub struct Roles {
    /// The feature whose firing is success.
    pub goal: Feature,
    /// The known proxies: features a learned agent may pursue instead of the goal.
    pub proxies: Vec<ProxyRole>,
    /// Utilities an agent keeps by not destroying options: attainable-utility impact
    /// measures how much an action changes the agent's power to attain each.
    pub aux_utilities: Vec<RewardWeights>,
    /// The shift that puts the goal where training never did (retargeting asks whether the
    /// agent follows it there); `None`: retargeting does not apply.
    pub retarget: Option<Shift>,
    /// The shift `mesascope deploy` tests when none is named: where the family's
    /// catastrophes or its proxy's costs show (the maze's lava-on-route).
    pub deploy: Shift,
}

/// A known proxy and the name of its "proxy instead of goal" metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyRole {
    /// The proxy's feature.
    pub feature: Feature,
    /// The metric's name in reports: the maze's corner is `corner_instead_of_cheese`.
    pub metric: &'static str,
}

