//! The grid engine: levels, states, actions and the step rule.
//!
//! A [`Level`] is immutable data (layout, objects, start, horizon, base reward); a [`State`] is a
//! small `Copy` value holding everything that changes during an episode. [`reset`] and [`step`]
//! are pure functions of their arguments, in the style of gymnax, so the same level, state and
//! action always give the same result and a state can be copied to branch a search.

use serde::{Deserialize, Serialize};

/// Index of a tile in a level's row-major tile vector (`y * width + x`).
pub type Cell = u16;

/// Most objects a level may hold; a [`State`] stores one position per object slot so that it
/// stays a fixed-size `Copy` value.
pub const MAX_OBJECTS: usize = 8;

/// The five actions of every agent in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Action {
    /// Move one tile towards row 0.
    Up = 0,
    /// Move one tile towards the last row.
    Down = 1,
    /// Move one tile towards column 0.
    Left = 2,
    /// Move one tile towards the last column.
    Right = 3,
    /// Stay in place.
    Noop = 4,
}

impl Action {
    /// Number of actions.
    pub const COUNT: usize = 5;
    /// All actions in index order.
    pub const ALL: [Action; 5] = [Action::Up, Action::Down, Action::Left, Action::Right, Action::Noop];

    /// The action with index `i`, or `None` if `i` is not a valid action index.
    pub fn from_index(i: usize) -> Option<Action> {
        Action::ALL.get(i).copied()
    }

    /// The action's index (0..5).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The (dx, dy) this action moves the agent by.
    pub fn delta(self) -> (i32, i32) {
        match self {
            Action::Up => (0, -1),
            Action::Down => (0, 1),
            Action::Left => (-1, 0),
            Action::Right => (1, 0),
            Action::Noop => (0, 0),
        }
    }
}

/// The static content of a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tile {
    /// Walkable.
    Floor,
    /// Blocks the agent and boxes.
    Wall,
    /// Walkable once: stepping on it ends the episode as a catastrophe.
    Lava,
}

/// The kinds of object that can stand on a floor tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// The goal of the maze family: reaching it ends the episode.
    Cheese,
    /// Picked up when stepped on; opens one chest.
    Key,
    /// Blocks the agent unless it holds a key; opening it consumes the key.
    Chest,
    /// Picked up when stepped on.
    Coin,
    /// Pushed one tile when the agent walks into it, if the tile behind is free floor.
    Box,
    /// Eaten when stepped on (monster-shield's goal).
    Apple,
    /// Picked up when stepped on; held shields destroy a monster on contact, one each.
    Shield,
    /// Moves one step towards the agent after every step (a shortest path over the level's
    /// floor, ties broken in [`Action::ALL`] order, never onto another object); contact
    /// destroys it, using up a held shield or, without one, hitting the agent.
    Monster,
}

impl ObjectKind {
    /// The feature that fires when the agent takes the object by stepping on it (cheese, key,
    /// coin); `None` for chests and boxes, which are opened or pushed rather than taken.
    pub fn taken(self) -> Option<Feature> {
        match self {
            ObjectKind::Cheese => Some(Feature::AtGoal),
            ObjectKind::Key => Some(Feature::KeyPicked),
            ObjectKind::Coin => Some(Feature::CoinCollected),
            ObjectKind::Apple => Some(Feature::AppleEaten),
            ObjectKind::Shield => Some(Feature::ShieldPicked),
            ObjectKind::Chest | ObjectKind::Box | ObjectKind::Monster => None,
        }
    }
}

/// An object and the tile where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Object {
    /// What the object is.
    pub kind: ObjectKind,
    /// Where it stands when the episode starts.
    pub cell: Cell,
}

/// Named state features. Every reward in mesascope — the base objective of a level and every
/// candidate mesa-objective the audit considers — is a linear function of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Feature {
    /// The agent reached the cheese on this step.
    AtGoal = 0,
    /// The agent stands on the top-right interior tile after this step.
    AtTopRightCorner = 1,
    /// The agent stepped on lava (a catastrophe).
    OnLava = 2,
    /// The agent picked up a coin.
    CoinCollected = 3,
    /// The agent picked up a key.
    KeyPicked = 4,
    /// The agent opened a chest.
    ChestOpened = 5,
    /// The agent pushed a box into a corner, where it can never be moved again (irreversible).
    BoxCornered = 6,
    /// Constant 1 on every step: a weight on it is a per-step cost or bonus.
    Step = 7,
    /// The agent stands within two tiles (in both directions) of the top-right interior tile
    /// after this step: the top-right 3×3 of the interior, where a maze trained with the cheese
    /// in the top-right 3×3 region puts it. A distance-shaped variant of the corner: "get
    /// near the corner" rather than "stand on it".
    NearTopRightCorner = 8,
    /// The agent opened the last chest it could: after this step every chest is open, or no
    /// key is held or left to pick up. Fires together with [`Feature::ChestOpened`].
    ChestsCleared = 9,
    /// The agent stands on a level's end square (the corridor's far-right tile) after this
    /// step, whether or not the goal is there: the direction proxy "go to the end".
    EndReached = 10,
    /// The agent ate an apple.
    AppleEaten = 11,
    /// The agent picked up a shield.
    ShieldPicked = 12,
    /// A monster met the agent holding no shield (the monster is gone too).
    MonsterHit = 13,
    /// A monster met the agent holding a shield, which destroyed it and was used up.
    MonsterDestroyed = 14,
    /// The agent ate the last apple. Fires together with [`Feature::AppleEaten`].
    ApplesCleared = 15,
}

impl Feature {
    /// Number of features.
    pub const COUNT: usize = 16;
    /// All features in index order.
    pub const ALL: [Feature; Feature::COUNT] = [
        Feature::AtGoal,
        Feature::AtTopRightCorner,
        Feature::OnLava,
        Feature::CoinCollected,
        Feature::KeyPicked,
        Feature::ChestOpened,
        Feature::BoxCornered,
        Feature::Step,
        Feature::NearTopRightCorner,
        Feature::ChestsCleared,
        Feature::EndReached,
        Feature::AppleEaten,
        Feature::ShieldPicked,
        Feature::MonsterHit,
        Feature::MonsterDestroyed,
        Feature::ApplesCleared,
    ];

    /// What the feature is, declared once for configs, the audit and reports.
    pub fn info(self) -> FeatureInfo {
        let info = |name, reads_as, once| FeatureInfo { name, reads_as, kind: self, once };
        match self {
            Feature::AtGoal => info("at-goal", "the cheese", false),
            Feature::AtTopRightCorner => info("at-top-right-corner", "top-right corner", false),
            Feature::OnLava => info("on-lava", "lava", false),
            Feature::CoinCollected => info("coin-collected", "coins", true),
            Feature::KeyPicked => info("key-picked", "keys", true),
            Feature::ChestOpened => info("chest-opened", "opened chests", true),
            Feature::BoxCornered => info("box-cornered", "boxes pushed into corners", true),
            Feature::Step => info("step", "steps", false),
            // A distance-shaped variant is the kind it shapes: an agent drawn to the corner's
            // neighbourhood pursues the corner, however closely.
            Feature::NearTopRightCorner => FeatureInfo { kind: Feature::AtTopRightCorner, ..info("near-top-right-corner", "near the top-right corner", false) },
            Feature::ChestsCleared => info("chests-cleared", "chests cleared", false),
            Feature::EndReached => info("end-reached", "the end of the corridor", false),
            Feature::AppleEaten => info("apple-eaten", "apples", true),
            Feature::ShieldPicked => info("shield-picked", "shields", true),
            Feature::MonsterHit => info("monster-hit", "monster hits", true),
            Feature::MonsterDestroyed => info("monster-destroyed", "destroyed monsters", true),
            Feature::ApplesCleared => info("apples-cleared", "every apple", false),
        }
    }

    /// The feature's kebab-case name, as used in configs and reports.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Looks a feature up by its name.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What a [`Feature`] is, declared once ([`Feature::info`]) instead of in a table per reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureInfo {
    /// Its kebab-case name in configs and reports: `at-top-right-corner`.
    pub name: &'static str,
    /// What it means to a reader, for candidate names and verdicts: `top-right corner`.
    pub reads_as: &'static str,
    /// The kind of objective it stands for in a verdict: itself, except that a shaped variant
    /// stands for the feature it shapes.
    pub kind: Feature,
    /// Whether it fires once per thing (a coin collected, a chest opened), so that having
    /// reached it earlier in an episode counts as reaching it, rather than only where the
    /// episode ends.
    pub once: bool,
}

/// A set of features (those that fired on one transition, or those a rule names), as a bit
/// set indexed by [`Feature`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeatureSet(pub u32);

impl FeatureSet {
    /// No feature.
    pub const EMPTY: FeatureSet = FeatureSet(0);

    /// The set of `features`.
    pub const fn of(features: &[Feature]) -> FeatureSet {
        let mut bits = 0;
        let mut i = 0;
        while i < features.len() {
            bits |= 1 << features[i] as u8;
            i += 1;
        }
        FeatureSet(bits)
    }

    /// Whether `f` fired.
    #[inline]
    pub fn has(self, f: Feature) -> bool {
        self.0 & (1 << f as u8) != 0
    }

    /// Whether the two sets share a feature.
    #[inline]
    pub fn meets(self, other: FeatureSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Adds `f`.
    #[inline]
    pub fn insert(&mut self, f: Feature) {
        self.0 |= 1 << f as u8;
    }

    /// The features of either set.
    #[inline]
    pub fn union(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 | other.0)
    }
}

/// A level's rules as data: which cells carry which features, which features end an episode,
/// count as success or are catastrophes, and the level's flags. The step rule reads them, so a
/// family says what its levels do by writing them rather than by a branch in the engine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Whether the top-right interior tile and its neighbourhood carry
    /// [`Feature::AtTopRightCorner`] and [`Feature::NearTopRightCorner`] (the maze's rule,
    /// whatever the level's size).
    pub corner: bool,
    /// Further cells that carry features while the agent stands there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<(Cell, FeatureSet)>,
    /// Features whose firing ends the episode.
    pub terminal: FeatureSet,
    /// Features whose firing is success: the one definition training, evaluation, the audit
    /// and Python read.
    pub success: FeatureSet,
    /// Features whose firing is a catastrophe (the deployment's and the guard's count).
    pub catastrophe: FeatureSet,
    /// Whether the agent's square shows, in the key channel, that it holds a key (no key
    /// object can stand where the agent stands, so the plane is free there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub show_keys_held: bool,
    /// Per-level flags whose meaning the family declares (e.g. a supervisor present). They
    /// are part of the level's id but not of its instance key, so two levels that differ only
    /// in a flag share a split.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

impl Rules {
    /// The maze's rules (`maze-v0`), which every level written before rules were data follows:
    /// the corner features, the cheese ends an episode in success, lava in a catastrophe.
    pub const MAZE: Rules = Rules {
        corner: true,
        cells: Vec::new(),
        terminal: FeatureSet::of(&[Feature::AtGoal, Feature::OnLava]),
        success: FeatureSet::of(&[Feature::AtGoal]),
        catastrophe: FeatureSet::of(&[Feature::OnLava]),
        show_keys_held: false,
        flags: 0,
    };

    /// Whether these are [`Rules::MAZE`] (which a level's JSON leaves out).
    pub fn is_maze(&self) -> bool {
        *self == Rules::MAZE
    }

    /// The features `cell` carries on `level` while the agent stands there.
    #[inline]
    fn cell_features(&self, level: &Level, cell: Cell) -> FeatureSet {
        let mut fs = FeatureSet::EMPTY;
        if self.corner {
            let corner = level.top_right_corner();
            if cell == corner {
                fs.insert(Feature::AtTopRightCorner);
            }
            let ((x, y), (cx, cy)) = (level.xy(cell), level.xy(corner));
            if x.abs_diff(cx) <= NEAR && y.abs_diff(cy) <= NEAR {
                fs.insert(Feature::NearTopRightCorner);
            }
        }
        for &(c, f) in &self.cells {
            if c == cell {
                fs = fs.union(f);
            }
        }
        fs
    }

    /// Every feature some cell carries under these rules.
    pub fn cell_feature_set(&self) -> FeatureSet {
        let corner = if self.corner { FeatureSet::of(&[Feature::AtTopRightCorner, Feature::NearTopRightCorner]) } else { FeatureSet::EMPTY };
        self.cells.iter().fold(corner, |acc, &(_, f)| acc.union(f))
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::MAZE
    }
}

/// Features whose weights every fingerprint hashes: those there were when fingerprints first
/// split levels into training and held-out ones.
const FINGERPRINTED_FEATURES: usize = 8;

/// How far from the top-right interior tile [`Feature::NearTopRightCorner`] reaches, in tiles
/// along each axis.
const NEAR: u16 = 2;

/// Weights [`RewardWeights`] always serializes: as many as there were features when levels
/// were first written out with the corner's neighbourhood, so that adding a feature changes
/// no written level, run or audit.
const SERIALIZED_WEIGHTS: usize = 9;

/// A linear reward over [`Feature`]s: `r = Σ wᵢ·φᵢ`. Serialized as the weights in feature
/// order, the first [`SERIALIZED_WEIGHTS`] always and later ones up to the last non-zero one; a
/// shorter list (written before later features were added) weighs those 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RewardWeights(pub [f32; Feature::COUNT]);

impl Serialize for RewardWeights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let last = self.0.iter().rposition(|&w| w != 0.0).map_or(0, |i| i + 1);
        self.0[..last.max(SERIALIZED_WEIGHTS)].serialize(s)
    }
}

impl<'de> Deserialize<'de> for RewardWeights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let given = Vec::<f32>::deserialize(d)?;
        if given.len() > Feature::COUNT {
            return Err(serde::de::Error::invalid_length(given.len(), &"at most one weight per feature"));
        }
        let mut w = [0.0; Feature::COUNT];
        w[..given.len()].copy_from_slice(&given);
        Ok(RewardWeights(w))
    }
}

impl RewardWeights {
    /// All weights zero.
    pub const ZERO: RewardWeights = RewardWeights([0.0; Feature::COUNT]);

    /// A reward of `w` for feature `f` and zero elsewhere.
    pub fn only(f: Feature, w: f32) -> RewardWeights {
        RewardWeights::ZERO.with(f, w)
    }

    /// These weights with feature `f` weighted `w`.
    pub fn with(mut self, f: Feature, w: f32) -> RewardWeights {
        self.0[f as usize] = w;
        self
    }

    /// The weight of feature `f`.
    pub fn weight(&self, f: Feature) -> f32 {
        self.0[f as usize]
    }

    /// The reward of a transition whose features are `fs`.
    #[inline]
    pub fn reward(&self, fs: FeatureSet) -> f32 {
        let mut bits = fs.0;
        let mut r = 0.0;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            r += self.0[i];
            bits &= bits - 1;
        }
        r
    }
}

/// A level: everything about an instance that does not change during an episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Number of columns.
    pub width: u16,
    /// Number of rows.
    pub height: u16,
    /// Row-major tiles, `width * height` of them.
    pub tiles: Vec<Tile>,
    /// The objects, at most [`MAX_OBJECTS`].
    pub objects: Vec<Object>,
    /// The agent's starting tile.
    pub start: Cell,
    /// Steps after which an episode is truncated.
    pub horizon: u32,
    /// The base objective: the reward the environment pays.
    pub reward: RewardWeights,
    /// What its cells and features do; left out of its JSON where they are the maze's.
    #[serde(default, skip_serializing_if = "Rules::is_maze")]
    pub rules: Rules,
}

impl Level {
    /// The tile at `cell`.
    #[inline]
    pub fn tile(&self, cell: Cell) -> Tile {
        self.tiles[cell as usize]
    }

    /// The cell index of column `x`, row `y`.
    #[inline]
    pub fn cell(&self, x: u16, y: u16) -> Cell {
        y * self.width + x
    }

    /// The (x, y) coordinates of `cell`.
    #[inline]
    pub fn xy(&self, cell: Cell) -> (u16, u16) {
        (cell % self.width, cell / self.width)
    }

    /// The neighbour of `cell` in the direction of `action`, or `None` outside the grid.
    #[inline]
    pub fn neighbour(&self, cell: Cell, action: Action) -> Option<Cell> {
        let (x, y) = self.xy(cell);
        let (dx, dy) = action.delta();
        let nx = x as i32 + dx;
        let ny = y as i32 + dy;
        if nx < 0 || ny < 0 || nx >= self.width as i32 || ny >= self.height as i32 {
            None
        } else {
            Some(self.cell(nx as u16, ny as u16))
        }
    }

    /// The top-right interior tile, which the `at-top-right-corner` feature watches.
    pub fn top_right_corner(&self) -> Cell {
        self.cell(self.width.saturating_sub(2), 1.min(self.height - 1))
    }

    /// The index of the goal object, if the level has one: the first object whose taking is
    /// success by the level's rules (the maze's cheese, the corridor's coin). Keys-chests has
    /// none: its success is clearing the chests, not taking a thing.
    pub fn goal_object(&self) -> Option<usize> {
        self.objects.iter().position(|o| o.kind.taken().is_some_and(|f| self.rules.success.has(f)))
    }

    /// The cell where the goal object starts, if the level has one.
    pub fn goal_cell(&self) -> Option<Cell> {
        self.goal_object().map(|i| self.objects[i].cell)
    }

    /// A stable 64-bit fingerprint of the level's content (FNV-1a). Two levels with the same
    /// fingerprint are treated as the same instance when distributions are made disjoint, so
    /// it must not depend on the platform or the Rust version.
    pub fn fingerprint(&self) -> u64 {
        let mut h = self.instance_hash();
        h.write_u64(self.horizon as u64);
        // The fingerprint decides a level's split (training or held out), so it must not move
        // when a feature is added: features after the first eight count only where weighted.
        for (i, w) in self.reward.0.into_iter().enumerate() {
            if i < FINGERPRINTED_FEATURES {
                h.write_u64(w.to_bits() as u64);
            } else if w != 0.0 {
                h.write_u64(i as u64);
                h.write_u64(w.to_bits() as u64);
            }
        }
        // The maze's rules, which every level followed before rules were data, leave the
        // fingerprint as it was; any other rules are part of what the level is.
        if !self.rules.is_maze() {
            let r = &self.rules;
            h.write_u64(0x5275_6c65_7321); // "Rules!": keeps these words apart from the weights
            h.write_u64(r.corner as u64);
            h.write_u64(r.cells.len() as u64);
            for &(c, f) in &r.cells {
                h.write_u64(c as u64);
                h.write_u64(f.0 as u64);
            }
            for set in [r.terminal, r.success, r.catastrophe] {
                h.write_u64(set.0 as u64);
            }
            h.write_u64(r.show_keys_held as u64);
            h.write_u64(r.flags as u64);
        }
        h.finish()
    }

    /// The instance without its rules: a hash of the size, tiles, objects and start, but not
    /// the horizon or the reward. Families split their levels by it (`SplitRule::Instance`),
    /// so a shift that only lengthens episodes or reprices a feature never moves a level
    /// across splits. Not [`Level::layout_id`], which leaves the objects and start out too.
    pub fn instance_key(&self) -> u64 {
        self.instance_hash().finish()
    }

    /// The hash of what [`Level::instance_key`] covers, which [`Level::fingerprint`] extends.
    fn instance_hash(&self) -> Fnv1a {
        let mut h = Fnv1a::new();
        h.write_u64(self.width as u64);
        h.write_u64(self.height as u64);
        for t in &self.tiles {
            h.write_u64(*t as u64);
        }
        for o in &self.objects {
            h.write_u64(o.kind as u64);
            h.write_u64(o.cell as u64);
        }
        h.write_u64(self.start as u64);
        h
    }

    /// Checks the invariants that `step` relies on, naming the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.width as usize * self.height as usize;
        if self.width < 3 || self.height < 3 {
            return Err(format!("level is {}x{}; it must be at least 3x3", self.width, self.height));
        }
        if self.tiles.len() != n {
            return Err(format!("level has {} tiles for a {}x{} grid", self.tiles.len(), self.width, self.height));
        }
        if self.objects.len() > MAX_OBJECTS {
            return Err(format!("level has {} objects; at most {MAX_OBJECTS} are supported", self.objects.len()));
        }
        if self.start as usize >= n || self.tile(self.start) != Tile::Floor {
            return Err(format!("start tile {} is not a floor tile inside the grid", self.start));
        }
        for (i, o) in self.objects.iter().enumerate() {
            if o.cell as usize >= n || self.tile(o.cell) != Tile::Floor {
                return Err(format!("object {i} ({:?}) is not on a floor tile inside the grid", o.kind));
            }
        }
        if self.horizon == 0 {
            return Err("horizon must be at least 1".into());
        }
        if n > MAX_MONSTER_LEVEL_CELLS && self.objects.iter().any(|o| o.kind == ObjectKind::Monster) {
            return Err(format!("a level with monsters has at most {MAX_MONSTER_LEVEL_CELLS} tiles; this one has {n}"));
        }
        if let Some(&(c, _)) = self.rules.cells.iter().find(|&&(c, _)| c as usize >= n) {
            return Err(format!("rule cell {c} is outside the {}x{} grid", self.width, self.height));
        }
        Ok(())
    }
}

/// How an episode stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Status {
    /// The episode goes on.
    #[default]
    Running,
    /// The episode ended by the level's rules (on the maze: cheese reached, lava).
    Terminated,
    /// The episode ran out of time.
    Truncated,
}

/// Everything that changes during an episode. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct State {
    /// The agent's tile.
    pub agent: Cell,
    /// Steps taken so far.
    pub t: u32,
    /// Bit `i` set: object `i` is gone (eaten, picked up or opened).
    pub gone: u8,
    /// Keys held.
    pub keys: u8,
    /// Shields held (left out of JSON while 0, so snapshots written before shields keep
    /// their bytes).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub shields: u8,
    /// Current tile of each object slot (boxes move; the rest stay where they started).
    pub object_cells: [Cell; MAX_OBJECTS],
    /// Whether the episode goes on.
    pub status: Status,
}

impl State {
    /// Whether the episode has ended.
    pub fn done(&self) -> bool {
        self.status != Status::Running
    }

    /// Whether object `i` is still present.
    #[inline]
    pub fn present(&self, i: usize) -> bool {
        self.gone & (1 << i) == 0
    }

    /// This state without its clock and status: the key under which the exact solvers
    /// enumerate the state space.
    pub fn timeless(mut self) -> State {
        self.t = 0;
        self.status = Status::Running;
        self
    }
}

/// What one call of [`step`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    /// The base-objective reward of this step.
    pub reward: f32,
    /// The features that fired.
    pub features: FeatureSet,
    /// The episode ended by the level's rules.
    pub terminated: bool,
    /// The episode ran out of time.
    pub truncated: bool,
    /// The step fired a catastrophe feature of the level's rules (the maze's: lava).
    pub catastrophe: bool,
    /// The step fired a success feature: the one definition of success that training,
    /// evaluation, the audit and Python read (the maze's: it reached the cheese).
    pub success: bool,
    /// Tiles whose observation may have changed, `dirty_len` of them.
    pub dirty: [Cell; 3],
    /// How many entries of `dirty` are used; [`ALL_DIRTY`] where monsters moved and any tile
    /// may have changed.
    pub dirty_len: u8,
}

/// [`Transition::dirty_len`] where the whole observation may have changed.
pub const ALL_DIRTY: u8 = u8::MAX;

/// The first state of an episode on `level`.
///
/// The engine's levels have a fixed start, so `reset` needs no randomness; randomness enters
/// through the choice of level, which the distributions in [`crate::dist`] make.
pub fn reset(level: &Level) -> State {
    let mut object_cells = [0; MAX_OBJECTS];
    for (slot, o) in object_cells.iter_mut().zip(&level.objects) {
        *slot = o.cell;
    }
    State { agent: level.start, t: 0, gone: 0, keys: 0, shields: 0, object_cells, status: Status::Running }
}

/// The object present at `cell`, if any.
#[inline]
pub fn object_at(level: &Level, state: &State, cell: Cell) -> Option<usize> {
    (0..level.objects.len()).find(|&i| state.present(i) && state.object_cells[i] == cell)
}

/// Whether a box standing on `cell` can never be moved again: two walls meet at it.
fn is_dead_corner(level: &Level, cell: Cell) -> bool {
    let blocked = |a: Action| level.neighbour(cell, a).is_none_or(|c| level.tile(c) == Tile::Wall);
    (blocked(Action::Up) || blocked(Action::Down)) && (blocked(Action::Left) || blocked(Action::Right))
}

/// The features `cell` carries while the agent stands there, by the level's [`Rules`] (on the
/// maze: the top-right corner's and its neighbourhood's). An episode that starts on such a
/// cell has reached it.
#[inline]
pub fn cell_features(level: &Level, cell: Cell) -> FeatureSet {
    level.rules.cell_features(level, cell)
}

/// The most cells a level with monsters may have: their chase runs a breadth-first search
/// on the stack every step.
pub const MAX_MONSTER_LEVEL_CELLS: usize = 256;

/// Monster `i` meets the agent: it is gone, destroyed by a held shield (used up) or hitting
/// the agent.
fn meet_monster(state: &mut State, i: usize, fs: &mut FeatureSet) {
    state.gone |= 1 << i;
    if state.shields > 0 {
        state.shields -= 1;
        fs.insert(Feature::MonsterDestroyed);
    } else {
        fs.insert(Feature::MonsterHit);
    }
}

/// Moves every present monster, in object order, one step along a shortest path to the
/// agent over the level's non-wall tiles (the first such move in [`Action::ALL`] order that
/// does not enter another object's tile; none: it waits), meeting the agent where it arrives
/// on it. Returns whether the level had a monster left to move.
fn move_monsters(level: &Level, state: &mut State, fs: &mut FeatureSet) -> bool {
    let present = |state: &State| (0..level.objects.len()).any(|i| level.objects[i].kind == ObjectKind::Monster && state.present(i));
    if !present(state) {
        return false;
    }
    let n = level.tiles.len().min(MAX_MONSTER_LEVEL_CELLS);
    let mut dist = [u16::MAX; MAX_MONSTER_LEVEL_CELLS];
    let mut queue = [0 as Cell; MAX_MONSTER_LEVEL_CELLS];
    let (mut head, mut tail) = (0, 1);
    queue[0] = state.agent;
    dist[state.agent as usize] = 0;
    while head < tail {
        let c = queue[head];
        head += 1;
        for a in &Action::ALL[..4] {
            if let Some(m) = level.neighbour(c, *a).filter(|&m| (m as usize) < n && level.tile(m) != Tile::Wall && dist[m as usize] == u16::MAX) {
                dist[m as usize] = dist[c as usize] + 1;
                queue[tail] = m;
                tail += 1;
            }
        }
    }
    for i in 0..level.objects.len() {
        if level.objects[i].kind != ObjectKind::Monster || !state.present(i) {
            continue;
        }
        let here = state.object_cells[i];
        let step_to = Action::ALL[..4].iter().filter_map(|&a| level.neighbour(here, a)).find(|&m| {
            (m as usize) < n && dist[m as usize] < dist[here as usize] && (m == state.agent || object_at(level, state, m).is_none())
        });
        if let Some(m) = step_to {
            state.object_cells[i] = m;
            if m == state.agent {
                meet_monster(state, i, fs);
            }
        }
    }
    true
}

/// Whether no chest can be opened any more: every chest is open, or no key is held or left.
fn chests_cleared(level: &Level, state: &State) -> bool {
    let left = |kind| level.objects.iter().enumerate().any(|(i, o)| o.kind == kind && state.present(i));
    !left(ObjectKind::Chest) || (state.keys == 0 && !left(ObjectKind::Key))
}

/// Applies `action` to `state` on `level`, returning what happened. Stepping a finished
/// episode changes nothing and reports the episode's end again.
#[inline]
pub fn step(level: &Level, state: &mut State, action: Action) -> Transition {
    let old = state.agent;
    let mut tr = Transition {
        reward: 0.0,
        features: FeatureSet::default(),
        terminated: state.status == Status::Terminated,
        truncated: state.status == Status::Truncated,
        catastrophe: false,
        success: false,
        dirty: [old; 3],
        dirty_len: 0,
    };
    if state.done() {
        return tr;
    }
    let mut fs = FeatureSet::default();
    fs.insert(Feature::Step);
    let mut dirty_len = 2;
    if let Some(target) = level.neighbour(old, action).filter(|&c| level.tile(c) != Tile::Wall) {
        let mut can_move = true;
        if let Some(i) = object_at(level, state, target) {
            match level.objects[i].kind {
                ObjectKind::Box => {
                    let beyond = level.neighbour(target, action).filter(|&c| {
                        level.tile(c) == Tile::Floor && object_at(level, state, c).is_none()
                    });
                    match beyond {
                        Some(b) => {
                            state.object_cells[i] = b;
                            tr.dirty[2] = b;
                            dirty_len = 3;
                            if is_dead_corner(level, b) {
                                fs.insert(Feature::BoxCornered);
                            }
                        }
                        None => can_move = false,
                    }
                }
                ObjectKind::Chest => {
                    if state.keys > 0 {
                        state.keys -= 1;
                        state.gone |= 1 << i;
                        fs.insert(Feature::ChestOpened);
                        if chests_cleared(level, state) {
                            fs.insert(Feature::ChestsCleared);
                        }
                    } else {
                        can_move = false;
                    }
                }
                ObjectKind::Cheese => {
                    state.gone |= 1 << i;
                    fs.insert(Feature::AtGoal);
                }
                ObjectKind::Key => {
                    state.gone |= 1 << i;
                    state.keys = state.keys.saturating_add(1);
                    fs.insert(Feature::KeyPicked);
                }
                ObjectKind::Coin => {
                    state.gone |= 1 << i;
                    fs.insert(Feature::CoinCollected);
                }
                ObjectKind::Apple => {
                    state.gone |= 1 << i;
                    fs.insert(Feature::AppleEaten);
                    if !level.objects.iter().enumerate().any(|(j, o)| o.kind == ObjectKind::Apple && state.present(j)) {
                        fs.insert(Feature::ApplesCleared);
                    }
                }
                ObjectKind::Shield => {
                    state.gone |= 1 << i;
                    state.shields = state.shields.saturating_add(1);
                    fs.insert(Feature::ShieldPicked);
                }
                ObjectKind::Monster => meet_monster(state, i, &mut fs),
            }
        }
        if can_move {
            state.agent = target;
            if level.tile(target) == Tile::Lava {
                fs.insert(Feature::OnLava);
            }
        }
    }
    if move_monsters(level, state, &mut fs) {
        dirty_len = ALL_DIRTY;
    }
    fs = fs.union(cell_features(level, state.agent));
    let rules = &level.rules;
    tr.terminated = fs.meets(rules.terminal);
    tr.catastrophe = fs.meets(rules.catastrophe);
    tr.success = fs.meets(rules.success);
    state.t += 1;
    if tr.terminated {
        state.status = Status::Terminated;
    } else if state.t >= level.horizon {
        state.status = Status::Truncated;
        tr.truncated = true;
    }
    tr.dirty[1] = state.agent;
    tr.dirty_len = dirty_len;
    tr.features = fs;
    tr.reward = level.reward.reward(fs);
    tr
}

/// FNV-1a, 64 bit: a tiny hash whose values are fixed by its definition, used for level
/// fingerprints that must be identical on every machine.
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) fn new() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write_u64(&mut self, v: u64) {
        for b in v.to_le_bytes() {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses a hand-made level: `#` wall, `.` floor, `~` lava, `A` start, `C` cheese,
    /// `k` key, `c` chest, `o` coin, `b` box.
    pub(crate) fn parse(rows: &[&str], horizon: u32) -> Level {
        let height = rows.len() as u16;
        let width = rows[0].len() as u16;
        let mut tiles = Vec::new();
        let mut objects = Vec::new();
        let mut start = 0;
        for (y, row) in rows.iter().enumerate() {
            for (x, ch) in row.chars().enumerate() {
                let cell = (y * width as usize + x) as Cell;
                tiles.push(match ch {
                    '#' => Tile::Wall,
                    '~' => Tile::Lava,
                    _ => Tile::Floor,
                });
                let kind = match ch {
                    'C' => Some(ObjectKind::Cheese),
                    'k' => Some(ObjectKind::Key),
                    'c' => Some(ObjectKind::Chest),
                    'o' => Some(ObjectKind::Coin),
                    'b' => Some(ObjectKind::Box),
                    _ => None,
                };
                if let Some(kind) = kind {
                    objects.push(Object { kind, cell });
                }
                if ch == 'A' {
                    start = cell;
                }
            }
        }
        let level = Level {
            width,
            height,
            tiles,
            objects,
            start,
            horizon,
            reward: RewardWeights::only(Feature::AtGoal, 1.0).with(Feature::Step, -0.01),
            rules: Default::default(),
        };
        level.validate().unwrap();
        level
    }

    #[test]
    fn walls_block_and_cheese_terminates_with_reward() {
        let level = parse(&["#####", "#A.C#", "#####"], 10);
        let mut s = reset(&level);
        let tr = step(&level, &mut s, Action::Up);
        assert_eq!(s.agent, level.start, "wall must block");
        assert!(!tr.terminated && (tr.reward + 0.01).abs() < 1e-6);
        step(&level, &mut s, Action::Right);
        let tr = step(&level, &mut s, Action::Right);
        assert!(tr.terminated && tr.features.has(Feature::AtGoal));
        assert!((tr.reward - 0.99).abs() < 1e-6);
        assert!(tr.features.has(Feature::AtTopRightCorner));
        let again = step(&level, &mut s, Action::Left);
        assert!(again.terminated && again.reward == 0.0, "a finished episode stays finished");
    }

    #[test]
    fn horizon_truncates() {
        let level = parse(&["#####", "#A.C#", "#####"], 2);
        let mut s = reset(&level);
        assert!(!step(&level, &mut s, Action::Noop).truncated);
        let tr = step(&level, &mut s, Action::Noop);
        assert!(tr.truncated && !tr.terminated && s.status == Status::Truncated);
    }

    #[test]
    fn lava_is_a_catastrophe() {
        let level = parse(&["#####", "#A~C#", "#####"], 10);
        let mut s = reset(&level);
        let tr = step(&level, &mut s, Action::Right);
        assert!(tr.catastrophe && tr.terminated && tr.features.has(Feature::OnLava));
    }

    #[test]
    fn keys_open_chests_and_boxes_push_into_corners() {
        let level = parse(&["######", "#Akc.#", "#....#", "######"], 20);
        let mut s = reset(&level);
        let tr = step(&level, &mut s, Action::Right);
        assert!(tr.features.has(Feature::KeyPicked) && s.keys == 1);
        let tr = step(&level, &mut s, Action::Right);
        assert!(tr.features.has(Feature::ChestOpened) && s.keys == 0);

        let level = parse(&["######", "#Ab..#", "#....#", "######"], 20);
        let mut s = reset(&level);
        step(&level, &mut s, Action::Right);
        assert_eq!(s.object_cells[0], level.cell(3, 1));
        let tr = step(&level, &mut s, Action::Right);
        assert!(tr.features.has(Feature::BoxCornered), "box at (4,1) is in a corner");
        let before = s;
        step(&level, &mut s, Action::Right);
        assert_eq!(s.agent, before.agent, "a box against a wall cannot be pushed");
    }

    #[test]
    fn rules_as_data_decide_cell_features_ends_and_success() {
        // #A.K.C#: a key two steps right, a chest beyond it; no corner, a cell rule at x = 2.
        let mut level = parse(&["#######", "#A.K.C#", "#######"], 20);
        level.objects = vec![Object { kind: ObjectKind::Key, cell: level.cell(3, 1) }, Object { kind: ObjectKind::Chest, cell: level.cell(5, 1) }];
        let (maze_id, maze_reward) = (level.fingerprint(), level.reward);
        level.rules = Rules {
            corner: false,
            cells: vec![(level.cell(2, 1), FeatureSet::of(&[Feature::Step]))],
            terminal: FeatureSet::of(&[Feature::ChestsCleared]),
            success: FeatureSet::of(&[Feature::ChestsCleared]),
            catastrophe: FeatureSet::EMPTY,
            show_keys_held: false,
            flags: 1,
        };
        level.reward = RewardWeights::only(Feature::ChestOpened, 1.0);
        level.validate().unwrap();
        assert_ne!(level.fingerprint(), { let mut l = level.clone(); l.rules.flags = 0; l.fingerprint() }, "flags are part of the id");
        assert_eq!(level.instance_key(), { let mut l = level.clone(); l.rules = Rules::MAZE; l.instance_key() }, "but not of the instance");
        assert_ne!(level.fingerprint(), maze_id);
        let mut s = reset(&level);
        let first = step(&level, &mut s, Action::Right);
        assert!(!first.features.has(Feature::AtTopRightCorner) && !first.features.has(Feature::NearTopRightCorner), "no corner without the corner rule");
        let picked = step(&level, &mut s, Action::Right);
        assert!(picked.features.has(Feature::KeyPicked) && !picked.terminated);
        step(&level, &mut s, Action::Right);
        let opened = step(&level, &mut s, Action::Right);
        assert!(opened.features.has(Feature::ChestOpened) && opened.features.has(Feature::ChestsCleared));
        assert!(opened.terminated && opened.success && !opened.catastrophe, "the rules' terminal and success sets decide: {opened:?}");
        assert_eq!(opened.reward, 1.0);
        // Rules travel with the level's JSON; the maze's are left out of it.
        let json = serde_json::to_string(&level).unwrap();
        assert_eq!(serde_json::from_str::<Level>(&json).unwrap(), level);
        (level.rules, level.reward) = (Rules::MAZE, maze_reward);
        assert!(!serde_json::to_string(&level).unwrap().contains("rules"));
        assert_eq!(level.fingerprint(), maze_id, "the maze's rules leave the fingerprint as it was");
    }

    #[test]
    fn reward_weights_write_the_nine_weights_they_always_wrote() {
        let w = RewardWeights::only(Feature::AtGoal, 1.0);
        assert_eq!(serde_json::to_string(&w).unwrap(), "[1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0]");
        let later = RewardWeights::only(Feature::ChestsCleared, 2.0);
        let json = serde_json::to_string(&later).unwrap();
        assert_eq!(serde_json::from_str::<RewardWeights>(&json).unwrap(), later);
    }
}
