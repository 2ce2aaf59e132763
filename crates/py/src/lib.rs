//! `mesascope._native`: the compiled part of the `mesascope` Python package. It exposes the
//! task layer's environments (one episode at a time for Gymnasium's `Env`, and the batched
//! [`mesascope_tasks::VecEnv`] for Gymnasium's `VectorEnv`) and lab's audit and deploy jobs
//! with a Python callable as the agent. The pure-Python package in `python/mesascope` wraps
//! these in the Gymnasium classes and gives them their documented signatures; this crate only
//! converts arguments, copies arrays and releases the GIL around the work. Rust-trained runs
//! load too: their weights as numpy arrays, their model as a policy, and lab's train and deploy
//! jobs.
//!
//! Every error of a lower layer reaches Python as `mesascope.MesascopeError` (a `ValueError`)
//! carrying the Rust error's message.

mod audit;
mod config;
mod env;
mod policy;
mod progress;
mod runs;
mod vecenv;

use pyo3::prelude::*;

pyo3::create_exception!(_native, MesascopeError, pyo3::exceptions::PyValueError, "Something mesascope cannot do with the arguments given; the message names the argument and why.");

/// Turns any error of the Rust layers into a `MesascopeError` with its message.
pub(crate) fn err(e: impl std::fmt::Display) -> PyErr {
    MesascopeError::new_err(e.to_string())
}

/// The module `mesascope._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MesascopeError", m.py().get_type::<MesascopeError>())?;
    m.add_class::<env::Env>()?;
    m.add_class::<vecenv::VecEnv>()?;
    m.add_function(wrap_pyfunction!(vecenv::rollout, m)?)?;
    m.add_function(wrap_pyfunction!(audit::audit_policy, m)?)?;
    m.add_function(wrap_pyfunction!(audit::audit_job, m)?)?;
    m.add_function(wrap_pyfunction!(config::env_config, m)?)?;
    m.add_class::<runs::Model>()?;
    m.add_class::<runs::EventWriter>()?;
    m.add_function(wrap_pyfunction!(runs::train, m)?)?;
    m.add_function(wrap_pyfunction!(runs::load_weights, m)?)?;
    m.add_function(wrap_pyfunction!(runs::replay, m)?)?;
    m.add_function(wrap_pyfunction!(runs::show, m)?)?;
    m.add_function(wrap_pyfunction!(runs::vector_field, m)?)?;
    m.add_function(wrap_pyfunction!(runs::deploy, m)?)?;
    m.add("ACTIONS", mesascope_tasks::Action::ALL.iter().map(|a| format!("{a:?}").to_lowercase()).collect::<Vec<_>>())?;
    m.add("CHANNELS", mesascope_tasks::vecenv::CHANNELS.to_vec())?;
    // Every registered family as (name, version, help): Python registers one Gymnasium id each.
    let families: Vec<(&str, &str, &str)> = mesascope_tasks::dist::FAMILIES
        .iter()
        .map(|&(name, help)| Ok((name, mesascope_tasks::FamilySpec::from_name(name).map_err(err)?.version(), help)))
        .collect::<PyResult<_>>()?;
    m.add("FAMILIES", families)?;
    Ok(())
}
