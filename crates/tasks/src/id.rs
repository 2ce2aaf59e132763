//! Level identity and replay: every level's id is its content fingerprint, a locator says how
//! to rebuild a level from its distribution, and every episode draws its actions from a random
//! stream of its own, derived from (seed, level id) alone. Together they make an episode a
//! function of (agent, level, seed): the same whether it ran alone or inside a batch, first or
//! last, so any episode a report names can be replayed bit for bit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dist::{distinct_levels, FamilySpec, Split};
use crate::error::TaskError;
use crate::grid::{Fnv1a, Level};

/// A level's id: its content fingerprint ([`Level::fingerprint`]), written as 16 hex digits.
/// Two levels with the same id are the same instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LevelId(pub u64);

impl Level {
    /// This level's id.
    pub fn id(&self) -> LevelId {
        LevelId(self.fingerprint())
    }
}

impl fmt::Display for LevelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for LevelId {
    type Err = TaskError;

    fn from_str(s: &str) -> Result<LevelId, TaskError> {
        let hex = s.trim();
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TaskError::invalid("level id", format!("'{s}' is not a level id: ids are up to 16 hex digits, as reports print them (e.g. 8f3a0c5d2e7b1946)")));
        }
        u64::from_str_radix(hex, 16).map(LevelId).map_err(|e| TaskError::invalid("level id", format!("'{s}': {e}")))
    }
}

impl Serialize for LevelId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LevelId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LevelId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Level {
    /// The id of the level's layout: its size and tiles (walls, floor, lava), without the
    /// objects, the start or the reward. Two levels with one layout look alike to an agent
    /// everywhere but at the objects, so a held-out level that shares a training level's
    /// layout tests less generalization than its distinct id suggests.
    pub fn layout_id(&self) -> LevelId {
        let mut h = Fnv1a::new();
        h.write_u64(self.width as u64);
        h.write_u64(self.height as u64);
        for t in &self.tiles {
            h.write_u64(*t as u64);
        }
        LevelId(h.finish())
    }
}

/// How much of one list of levels another already holds: by id (the same instance) and by
/// layout (the same walls and floor, whatever the objects).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    /// Levels in the first list.
    pub first: usize,
    /// Distinct layouts among them.
    pub first_layouts: usize,
    /// Levels in the second list.
    pub second: usize,
    /// Distinct layouts among them.
    pub second_layouts: usize,
    /// Levels of the second list whose id is in the first.
    pub shared_ids: usize,
    /// Levels of the second list whose layout is in the first.
    pub shared_layouts: usize,
}

/// How much of `second` `first` already holds.
pub fn overlap(first: &[Level], second: &[Level]) -> Overlap {
    use std::collections::HashSet;
    let ids: HashSet<LevelId> = first.iter().map(Level::id).collect();
    let layouts: HashSet<LevelId> = first.iter().map(Level::layout_id).collect();
    let second_layouts: HashSet<LevelId> = second.iter().map(Level::layout_id).collect();
    Overlap {
        first: first.len(),
        first_layouts: layouts.len(),
        second: second.len(),
        second_layouts: second_layouts.len(),
        shared_ids: second.iter().filter(|l| ids.contains(&l.id())).count(),
        shared_layouts: second.iter().filter(|l| layouts.contains(&l.layout_id())).count(),
    }
}

/// The seed of the action stream of an episode on the level `id` under `seed`. It depends on
/// nothing else — not the episode's place in a batch, not how many steps other episodes ran —
/// so the same agent replays the same episode from (level id, seed), and one guard
/// configuration's episode draws what the unguarded one drew (common random numbers).
pub fn episode_seed(seed: u64, id: LevelId) -> u64 {
    splitmix(seed ^ splitmix(id.0))
}

/// SplitMix64's finaliser with its increment: a bijection that spreads nearby inputs apart.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The version of the level generators. A locator rebuilds a level only with the generators
/// that drew it; raise this whenever a generator draws differently for the same parameters and
/// seed (which also moves every level id and split).
pub const GENERATOR_VERSION: u32 = 1;

/// How to rebuild a level from its distribution: the `index`-th distinct level of `split`
/// drawn by the family's generator from the stream `stream`. It names the family with all its
/// parameters (after any shift) rather than a digest of them, so a reader sees which
/// distribution a level came from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelLocator {
    /// The family and its parameters.
    pub family: FamilySpec,
    /// The generator version that drew it ([`GENERATOR_VERSION`]).
    pub version: u32,
    /// Which side of the train/held-out partition.
    pub split: Split,
    /// The seed of the draw stream.
    pub stream: u64,
    /// Position among the stream's distinct levels of `split` (0 = first).
    pub index: usize,
}

/// The most levels a locator may ask to be drawn: rebuilding is linear in the index.
pub const MAX_LOCATOR_INDEX: usize = 1_000_000;

impl LevelLocator {
    /// The level it locates, or why it cannot be rebuilt (a generator of another version, an
    /// index beyond what the family can draw, invalid parameters).
    pub fn level(&self) -> Result<Level, TaskError> {
        if self.version != GENERATOR_VERSION {
            return Err(TaskError::invalid(
                "level locator",
                format!("it was written by level generators version {}; this build has version {GENERATOR_VERSION}, which draws other levels", self.version),
            ));
        }
        if self.index >= MAX_LOCATOR_INDEX {
            return Err(TaskError::invalid("level locator", format!("index {} is beyond the {MAX_LOCATOR_INDEX} levels a locator may draw", self.index)));
        }
        self.family.validate()?;
        let mut levels = distinct_levels(&self.family, self.split, self.index + 1, self.stream)?;
        Ok(levels.swap_remove(self.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{Diversity, Shift, TrainingDistribution};
    use crate::maze::MazeParams;

    #[test]
    fn ids_print_and_parse_as_hex_and_bad_ids_are_named() {
        let id = LevelId(0x00ab_cdef_0123_4567);
        assert_eq!(id.to_string(), "00abcdef01234567");
        assert_eq!("00abcdef01234567".parse::<LevelId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"00abcdef01234567\"");
        for bad in ["", "xyz", "0123456789abcdef0", "12 34"] {
            let e = bad.parse::<LevelId>().unwrap_err().to_string();
            assert!(e.contains("level id") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn held_out_levels_share_no_id_with_training_but_small_mazes_share_layouts() {
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 7, ..Default::default() }), diversity: Diversity::Finite(300), level_seed: 3 };
        let train = dist.training_levels().unwrap().unwrap();
        let held = dist.held_out_levels(Shift::None, 300, 9).unwrap();
        let o = overlap(&train, &held);
        assert_eq!((o.first, o.second, o.shared_ids), (300, 300, 0));
        // A 7x7 perfect maze has a 3x3 grid of cells: 192 spanning trees, so 192 layouts.
        assert!(o.first_layouts <= 192 && o.shared_layouts * 2 > o.second, "{o:?}");
        // Two training pools of one family drawn from other seeds hold some levels in common.
        let other = TrainingDistribution { level_seed: 4, ..dist }.training_levels().unwrap().unwrap();
        assert!(overlap(&train, &other).shared_ids > 0);
    }

    #[test]
    fn episode_seeds_depend_on_the_seed_and_the_level_only() {
        assert_eq!(episode_seed(7, LevelId(3)), episode_seed(7, LevelId(3)));
        assert_ne!(episode_seed(7, LevelId(3)), episode_seed(8, LevelId(3)));
        assert_ne!(episode_seed(7, LevelId(3)), episode_seed(7, LevelId(4)));
    }

    #[test]
    fn a_locator_rebuilds_its_level_and_refuses_another_generator_version() {
        let dist = TrainingDistribution { family: FamilySpec::Maze(MazeParams { size: 7, ..Default::default() }), diversity: Diversity::Infinite, level_seed: 0 };
        let levels = dist.held_out_levels(Shift::GoalAnywhere, 30, 5).unwrap();
        let mut first = None;
        for (index, level) in levels.iter().enumerate().step_by(7) {
            let (found, locator) = dist.find_held_out(Shift::GoalAnywhere, level.id(), 30, 5).unwrap().unwrap();
            assert_eq!((&found, locator.index), (level, index));
            assert_eq!(&locator.level().unwrap(), level);
            first.get_or_insert(locator);
        }
        assert!(dist.find_held_out(Shift::GoalAnywhere, levels[29].id(), 29, 5).unwrap().is_none(), "the search stops at its count");
        let old = LevelLocator { version: GENERATOR_VERSION + 1, ..first.unwrap() };
        assert!(old.level().unwrap_err().to_string().contains("version"));
    }
}
