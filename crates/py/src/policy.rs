//! The Python policy contract the audit and the deployment chain share: a callable from a
//! float32 batch of observations `[n, C, H, W]` to `[n, 5]` action logits or probabilities, or
//! to the pair of those and `{name: activations [n, features]}`. A recurrent policy (one with an
//! `initial_state`) is called `policy(obs, state)` and returns `(actions, next state)` or
//! `(actions, next state, activations)`; every episode starts from the zero state.

use nalgebra::DMatrix;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use mesascope_audit::agents::Activations;
use mesascope_tasks::Action;

use crate::err;

/// What the policy's rows are.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Output {
    Logits,
    Probabilities,
}

impl Output {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Output::Logits => "logits",
            Output::Probabilities => "probabilities",
        }
    }
}

/// The `[n, 5]` rows of action logits or probabilities a policy `returned`, checked.
pub(crate) fn action_rows(py: Python<'_>, returned: Bound<'_, PyAny>, n: usize, output: Output) -> PyResult<Vec<Vec<f32>>> {
    let what = output.name();
    let array = py.import("numpy")?.call_method1("asarray", (returned, "float32")).map_err(|e| err(format!("invalid policy output: numpy.asarray cannot make float32 {what} of it: {e}")))?;
    let rows: PyReadonlyArray2<'_, f32> = array.extract().map_err(|_| {
        let shape = array.getattr("shape").map(|s| s.to_string()).unwrap_or_default();
        err(format!("invalid policy output: it returned shape {shape}; expected ({n}, 5), one row of action {what} per observation"))
    })?;
    if rows.shape() != [n, Action::COUNT] {
        return Err(err(format!("invalid policy output: it returned shape {:?}; expected ({n}, 5), one row of action {what} per observation", rows.shape())));
    }
    rows.as_array()
        .rows()
        .into_iter()
        .enumerate()
        .map(|(j, row)| {
            let row = row.to_vec();
            if row.iter().any(|x| x.is_nan()) || (output == Output::Probabilities && row.iter().any(|&p| p < 0.0 || !p.is_finite())) {
                return Err(err(format!("invalid policy output: row {j} is {row:?}; {what} must be numbers{}", if output == Output::Probabilities { " ≥ 0" } else { "" })));
            }
            Ok(row)
        })
        .collect()
}

/// One row's shape of a recurrent policy's state: `initial_state(1)`, which must be zeros of
/// shape `(1, ...)` (every episode starts from the zero state); `None` without `initial_state`.
pub(crate) fn state_shape(py: Python<'_>, initial_state: Option<&Py<PyAny>>) -> PyResult<Option<Vec<usize>>> {
    let Some(make) = initial_state else { return Ok(None) };
    if !make.bind(py).is_callable() {
        return Err(err("invalid initial_state: it must be callable (a number of episodes → their zero state)"));
    }
    let returned = make.bind(py).call1((1,)).map_err(|e| err(format!("invalid initial_state: initial_state(1) raised {e}")))?;
    let state = py.import("numpy")?.call_method1("asarray", (returned, "float32"))?;
    let state: PyReadonlyArrayDyn<'_, f32> = state.extract()?;
    if state.shape().first() != Some(&1) || state.as_array().iter().any(|&x| x != 0.0) {
        return Err(err(format!("invalid initial_state: initial_state(1) must be zeros of shape (1, ...) (every episode starts from a zero state); it gave shape {:?}", state.shape())));
    }
    Ok(Some(state.shape()[1..].to_vec()))
}

/// `callable` on the batch `batch` of shape `shape` (with the rows' recurrent `state`, one row
/// of shape `row`, which the next state replaces): what it returned for the actions and, when it
/// returned them, its named activations.
pub(crate) fn call<'py>(py: Python<'py>, callable: &Py<PyAny>, batch: Vec<f32>, shape: [usize; 4], state: Option<(&mut [f32], &[usize])>) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyDict>>)> {
    let obs = PyArray1::from_vec(py, batch).reshape(shape)?;
    let Some((state, row)) = state else {
        return Ok(actions_and_activations(callable.bind(py).call1((obs,))?));
    };
    let n = shape[0];
    let full: Vec<usize> = std::iter::once(n).chain(row.iter().copied()).collect();
    let returned = callable.bind(py).call1((obs, PyArray1::from_slice(py, state).reshape(full)?))?;
    let parts: Vec<Bound<'py, PyAny>> = match returned.cast::<PyTuple>() {
        Ok(tuple) if (2..=3).contains(&tuple.len()) => tuple.iter().collect(),
        _ => return Err(err("invalid policy output: a recurrent policy returns (actions, next state) or (actions, next state, activations)")),
    };
    let next = py.import("numpy")?.call_method1("asarray", (&parts[1], "float32"))?;
    let next: PyReadonlyArrayDyn<'_, f32> = next.extract()?;
    if next.len() != state.len() || next.shape().first() != Some(&n) {
        return Err(err(format!("invalid policy output: the next state has shape {:?}; expected {n} rows of {} values, as the state it was given", next.shape(), state.len() / n.max(1))));
    }
    for (slot, value) in state.iter_mut().zip(next.as_array().iter()) {
        *slot = *value;
    }
    let named = parts.get(2).map(|d| d.cast::<PyDict>().cloned()).transpose().map_err(|_| err("invalid policy output: the third element must be {name: activations}"))?;
    Ok((parts[0].clone(), named))
}

/// What a policy `returned`: its actions and, when it returned the pair of them and a dict,
/// the dict (named activations).
pub(crate) fn actions_and_activations<'py>(returned: Bound<'py, PyAny>) -> (Bound<'py, PyAny>, Option<Bound<'py, PyDict>>) {
    match returned.extract::<(Bound<'py, PyAny>, Bound<'py, PyDict>)>() {
        Ok((out, named)) => (out, Some(named)),
        Err(_) => (returned, None),
    }
}

/// Named activations `{name: [n, features]}` as matrices, in the dict's order; `who` names the
/// callable in errors.
pub(crate) fn activation_matrices(py: Python<'_>, named: &Bound<'_, PyDict>, n: usize, who: &str) -> PyResult<Activations> {
    let numpy = py.import("numpy")?;
    named
        .iter()
        .map(|(key, value)| {
            let name: String = key.extract().map_err(|_| err(format!("invalid {who} output: activation names must be strings, not {key}")))?;
            let array = numpy.call_method1("asarray", (value, "float32")).map_err(|e| err(format!("invalid {who} output: activation '{name}': numpy.asarray cannot make float32 of it: {e}")))?;
            let shape = array.getattr("shape").map(|s| s.to_string()).unwrap_or_default();
            let rows: PyReadonlyArray2<'_, f32> = array.extract().map_err(|_| err(format!("invalid {who} output: activation '{name}' has shape {shape}; expected ({n}, features)")))?;
            if rows.shape()[0] != n {
                return Err(err(format!("invalid {who} output: activation '{name}' has shape {shape}; expected ({n}, features)")));
            }
            let rows = rows.as_array();
            if rows.iter().any(|x| !x.is_finite()) {
                return Err(err(format!("invalid {who} output: activation '{name}' holds a value that is not finite")));
            }
            Ok((name, DMatrix::from_fn(n, rows.ncols(), |i, j| rows[(i, j)] as f64)))
        })
        .collect()
}

