//! `mesascope-learn` is the base-optimizer layer of mesascope: the learned models (actor-critic
//! MLPs, CNNs and recurrent ConvGRUs with adjustable thinking ticks, each exposing its named
//! activations) and the base optimizers that train them on `mesascope-tasks` distributions,
//! starting with PPO. It owns training configs, run directories with CSV metrics, atomic
//! checkpoints (weights in safetensors) and resumption. Tensor code is written once against
//! burn's device-dispatched API: the pure-Rust CPU backend is the default and a GPU backend is a
//! cargo feature away (`cuda`, `wgpu`).

#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod eval;
pub mod model;
pub mod ppo;
pub mod run;

use std::sync::Mutex;

use burn::prelude::Device;

pub use config::TrainConfig;
pub use error::LearnError;
pub use model::{ActorCritic, ModelConfig, ModelKind};
pub use ppo::{PpoConfig, Trainer, UpdateMetrics};

/// The tensor device called `name`: `cpu` always; `cuda` and `wgpu` when built with the
/// matching feature.
pub fn device(name: &str) -> Result<Device, LearnError> {
    match name {
        "cpu" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        "cuda" | "wgpu" => Err(LearnError::config("device", format!("'{name}' needs mesascope built with `--features {name}`"))),
        _ => Err(LearnError::config("device", format!("unknown device '{name}' (known: cpu, cuda, wgpu)"))),
    }
}

/// Burn draws initial weights from a per-device random stream, lazily, when a parameter is
/// first used. Seeding, creating and first use must happen together, or two models made at
/// once (parallel tests, sweeps) would interleave their draws.
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// A model for observations of `shape`, with initial weights determined by `seed`.
pub fn init_model(cfg: &ModelConfig, shape: (usize, usize, usize), device: &Device, seed: u64) -> ActorCritic {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let model = ActorCritic::new(cfg, shape, device);
    // A forward pass touches every parameter, materialising them all under the lock.
    let (c, h, w) = shape;
    let _ = model.forward(burn::prelude::Tensor::zeros([1, c, h, w], device), None, 1, false);
    model
}
