//! `mesascope-learn` is the base-optimizer layer of mesascope: the learned models (actor-critic
//! MLPs, CNNs and recurrent ConvGRUs with adjustable thinking ticks, each exposing its named
//! activations) and the base optimizers that train them on `mesascope-tasks` distributions,
//! starting with PPO. It owns training configs, run directories with CSV metrics, atomic
//! checkpoints (weights in safetensors) and resumption. Tensor code is written once against
//! burn's device-dispatched API: the pure-Rust CPU backend is the default and a GPU backend is a
//! cargo feature away (`cuda`, `wgpu`).

#![warn(missing_docs)]

pub mod config;
pub mod conv3x3;
mod elementwise;
pub mod gru;
pub mod error;
pub mod eval;
pub mod model;
pub mod ppo;
pub mod run;
pub mod sparse3x3;

use burn::prelude::Device;

pub use config::TrainConfig;
pub use error::LearnError;
pub use model::{ActorCritic, ModelConfig, ModelKind};
pub use ppo::{PpoConfig, Trainer, UpdateMetrics, UpdateTiming};

/// The tensor device called `name`: `cpu` always; `cuda` and `wgpu` when built with the
/// matching feature.
pub fn device(name: &str) -> Result<Device, LearnError> {
    match name {
        "cpu" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        // Only the names of backends this build lacks get here; with both features, none do.
        #[allow(unreachable_patterns)]
        "cuda" | "wgpu" => Err(LearnError::config("device", format!("'{name}' needs mesascope built with `--features {name}`"))),
        _ => Err(LearnError::config("device", format!("unknown device '{name}' (known: cpu, cuda, wgpu)"))),
    }
}

/// A model for observations of `shape`, with initial weights determined by `seed`.
///
/// The weights are drawn from a Rust random stream seeded here, never from burn's per-device
/// stream (which burn draws from lazily, at a parameter's first use): so models created
/// concurrently (parallel tests, sweeps) cannot interleave their draws, and no lock is needed.
pub fn init_model(cfg: &ModelConfig, shape: (usize, usize, usize), device: &Device, seed: u64) -> ActorCritic {
    use rand::SeedableRng;
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(mesascope_tasks::dist::mix_seed(seed, 3));
    ActorCritic::new(cfg, shape, device, &mut rng)
}
