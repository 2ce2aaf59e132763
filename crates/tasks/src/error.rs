//! The one error type of the task layer. Every variant names the parameter or thing at fault,
//! because these messages reach users of the CLI and of configs directly.

use thiserror::Error;

/// Something asked of the task layer that cannot be done.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TaskError {
    /// A parameter has an impossible value.
    #[error("invalid {param}: {message}")]
    Invalid {
        /// The parameter's name as a user writes it.
        param: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A name (family, shift, feature, observation kind, …) is not known.
    #[error("unknown {what} '{name}' (known: {known})")]
    Unknown {
        /// What kind of name it was.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that would have been accepted, comma-separated.
        known: String,
    },
    /// A distribution was asked for more distinct levels than its family can make.
    #[error("invalid diversity: asked for {asked} distinct levels but the family only produced {found} distinct levels for this split in {attempts} draws; lower N or enlarge the maze")]
    TooFewInstances {
        /// N asked for.
        asked: usize,
        /// Distinct levels found.
        found: usize,
        /// Levels drawn before giving up.
        attempts: usize,
    },
    /// An exact planner was asked about a state that no episode of its level reaches.
    #[error("the agent at cell {agent} is in no state an episode of this level reaches")]
    UnreachableState {
        /// Where the agent stood.
        agent: u16,
    },
    /// An exact solver was asked to enumerate more states than its limit.
    #[error("state space of this level exceeds {limit} states; exact solvers need a smaller level")]
    StateSpaceTooLarge {
        /// The limit that was reached.
        limit: usize,
    },
}

impl TaskError {
    /// An [`TaskError::Invalid`] for `param`.
    pub fn invalid(param: &'static str, message: impl Into<String>) -> TaskError {
        TaskError::Invalid { param, message: message.into() }
    }

    /// An [`TaskError::Unknown`] listing the accepted names.
    pub fn unknown(what: &'static str, name: &str, known: &[&str]) -> TaskError {
        TaskError::Unknown { what, name: name.to_string(), known: known.join(", ") }
    }
}
