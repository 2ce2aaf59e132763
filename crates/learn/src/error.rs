//! Errors of the learning layer; each names the field, file or thing at fault.

use std::path::PathBuf;

use mesascope_tasks::TaskError;
use thiserror::Error;

/// Something the learning layer cannot do.
#[derive(Debug, Error)]
pub enum LearnError {
    /// A configuration field has an impossible value or is unknown.
    #[error("config field '{field}': {message}")]
    Config {
        /// Dotted path of the field, e.g. `ppo.learning_rate`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The task layer refused something (bad family parameters, unknown shift, …).
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A checkpoint or run directory cannot be used.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration is not valid TOML; `file` is its path (or `config` for text).
    #[error("{file}:{line}:{column}: not valid TOML: {message}")]
    Syntax {
        /// The file, as the user named it.
        file: String,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1 (in characters).
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// Reading or writing a file failed.
    // The OS error is in the message and not kept as the error's source: a front end that
    // prints the chain of sources (anyhow's `{:#}`) would print it twice.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
}

impl LearnError {
    /// A [`LearnError::Config`] for `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> LearnError {
        LearnError::Config { field: field.into(), message: message.into() }
    }

    /// A [`LearnError::Checkpoint`] for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> LearnError {
        LearnError::Checkpoint { path: path.into(), message: message.into() }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LearnError {
        let path = path.into();
        move |error| LearnError::Io { path, error }
    }
}
