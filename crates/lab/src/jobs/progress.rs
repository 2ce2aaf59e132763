//! What a long job reports while it works. Jobs call a callback with [`Progress`] values and
//! never draw anything themselves, so the command line can show a bar on a terminal and log
//! lines elsewhere, and a Python caller can do what it likes with the same numbers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::runner::Event;

/// One report from a running job.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// The job has started: what it does, how much work it has in all (`total` units of
    /// `unit`), and how much of that was already done before (a resumed run, finished runs of
    /// an experiment).
    Started {
        /// One line saying what the job does and where its files go.
        what: String,
        /// Units of work in all.
        total: u64,
        /// Units already done when the job started.
        done: u64,
        /// The unit: `steps` (environment steps) or `stages`.
        unit: &'static str,
    },
    /// Training made a PPO update.
    Update {
        /// Environment steps done so far.
        step: u64,
        /// Mean return of the episodes that ended in this update.
        episode_return: f64,
        /// Fraction of those episodes that reached the goal.
        success_rate: f64,
        /// Environment steps per second of this update (acting and learning).
        steps_per_second: f64,
        /// Success on the held-out evaluation levels, when this update evaluated.
        held_out_success: Option<f64>,
    },
    /// A stage of a multi-stage job (audit, deploy) started.
    Stage {
        /// Stages finished before this one.
        done: u64,
        /// What the stage does.
        name: String,
    },
    /// An experiment advanced.
    Experiment {
        /// Environment steps done so far over all runs.
        step: u64,
        /// Of `step`, those done in an earlier invocation (runs finished or resumed from a
        /// checkpoint): a rate or an ETA counts only the rest.
        resumed: u64,
        /// Runs finished (trained and measured) so far.
        runs_done: usize,
        /// The run that finished last, if any.
        last_run: Option<String>,
    },
    /// One run of an experiment failed; the experiment goes on with the others.
    RunFailed {
        /// The run's id.
        id: String,
        /// Why it failed.
        error: String,
    },
}

/// The callback jobs report progress through; `Sync` because an experiment calls it from
/// several worker threads.
pub type OnProgress<'a> = &'a (dyn Fn(&Progress) + Sync);

/// The running totals of a job that runs experiments (one, or a zoo's several): turns each
/// runner [`Event`] into a [`Progress::Experiment`] or [`Progress::RunFailed`] report.
#[derive(Default)]
pub(crate) struct ExperimentTotals {
    step: AtomicU64,
    resumed: AtomicU64,
    runs_done: AtomicUsize,
}

impl ExperimentTotals {
    /// Counts `event` and reports the totals; `name` gives the name a run's id is reported
    /// under.
    pub(crate) fn report(&self, event: Event, name: impl Fn(String) -> String, progress: OnProgress) {
        let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
        let runs_done = || self.runs_done.load(Ordering::SeqCst);
        match event {
            Event::Steps(n) => {
                let step = self.step.fetch_add(n, Ordering::SeqCst) + n;
                progress(&Progress::Experiment { step, resumed: load(&self.resumed), runs_done: runs_done(), last_run: None });
            }
            Event::Resumed(n) => {
                let step = self.step.fetch_add(n, Ordering::SeqCst) + n;
                let resumed = self.resumed.fetch_add(n, Ordering::SeqCst) + n;
                progress(&Progress::Experiment { step, resumed, runs_done: runs_done(), last_run: None });
            }
            Event::RunDone(id) => {
                let done = self.runs_done.fetch_add(1, Ordering::SeqCst) + 1;
                progress(&Progress::Experiment { step: load(&self.step), resumed: load(&self.resumed), runs_done: done, last_run: Some(name(id)) });
            }
            Event::RunFailed(id, error) => progress(&Progress::RunFailed { id: name(id), error }),
        }
    }
}
