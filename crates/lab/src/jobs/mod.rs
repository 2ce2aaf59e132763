//! One function per user-facing job, over plain option and result structs: what the
//! `mesascope` command line runs, and what a Python binding calls. Options serialise with
//! serde, so they can be built from a dict or a TOML table; results carry the paths of the
//! files a job wrote. Long jobs report [`Progress`] through a callback and draw nothing.
//!
//! Errors name the option at fault as the command line spells its flag (`--false-alarm`), the
//! one spelling every front end can point a user to.

pub mod audit;
pub mod bench;
mod common;
pub mod demo;
pub mod deploy;
pub mod eval;
pub mod experiment;
pub mod field;
pub mod pictures;
pub mod progress;
pub mod quickstart;
pub mod replay;
pub mod show;
pub mod split;
pub mod train;
pub mod zoo;
