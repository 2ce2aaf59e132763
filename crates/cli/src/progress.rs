//! Progress of long jobs on standard error. On a terminal, an indicatif bar; anywhere else
//! (nohup, CI, a cluster's job log) a plain line whenever another 5% of the work is done or
//! 30 s have passed, whichever comes first, so a log shows where a run is and when it will end.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mesascope_lab::Progress;

/// A log line at least this often, however slow the work.
const LINE_EVERY: Duration = Duration::from_secs(30);
/// And one whenever another this many percent of the work is done.
const LINE_PERCENT: u64 = 5;

/// Shows a job's [`Progress`]; shared by the worker threads of an experiment.
pub struct Reporter {
    state: Mutex<State>,
    terminal: bool,
}

struct State {
    bar: Option<ProgressBar>,
    unit: &'static str,
    total: u64,
    pos: u64,
    /// Position and time the job started at, for rates and the ETA.
    start: (u64, Instant),
    /// Of the position, steps an experiment found done by an earlier invocation: no work of
    /// this one, so no part of its rate or ETA.
    resumed: u64,
    /// The percentage at which the next log line is due, and when the last one was written.
    next_percent: u64,
    last_line: Instant,
    /// The last held-out success seen in training; shown until the next evaluation.
    held_out: Option<f64>,
}

/// `seconds` as `1h02m03s`, `2m03s` or `3s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

impl Reporter {
    /// A reporter drawing a bar when standard error is a terminal, and log lines when not.
    pub fn new() -> Reporter {
        let now = Instant::now();
        let state = State { bar: None, unit: "steps", total: 0, pos: 0, start: (0, now), resumed: 0, next_percent: 0, last_line: now, held_out: None };
        Reporter { state: Mutex::new(state), terminal: std::io::stderr().is_terminal() }
    }

    /// Shows one report.
    pub fn on(&self, p: &Progress) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let resumed_before = s.resumed;
        let message = match p {
            Progress::Started { what, total, done, unit } => {
                eprintln!("{what}");
                let now = Instant::now();
                (s.unit, s.total, s.pos, s.start, s.resumed, s.last_line) = (unit, *total, *done, (*done, now), 0, now);
                s.next_percent = (100 * done / (*total).max(1) / LINE_PERCENT + 1) * LINE_PERCENT;
                if self.terminal {
                    let bar = ProgressBar::new(*total).with_position(*done);
                    bar.set_style(ProgressStyle::with_template(&format!("{{bar:30}} {{percent:>3}}% {{pos}}/{{len}} {unit}  {{elapsed_precise}} (eta {{eta}})  {{msg}}")).expect("valid template"));
                    s.bar = Some(bar);
                }
                return;
            }
            Progress::Update { step, episode_return, success_rate, steps_per_second, held_out_success } => {
                s.pos = *step;
                s.held_out = held_out_success.or(s.held_out);
                let held_out = s.held_out.map(|h| format!("  held-out success {:.1}%", 100.0 * h)).unwrap_or_default();
                format!("return {episode_return:.2}  success {:.0}%  {steps_per_second:.0} steps/s{held_out}", 100.0 * success_rate)
            }
            Progress::Stage { done, name } => {
                s.pos = *done;
                name.clone()
            }
            Progress::Experiment { step, resumed, runs_done, last_run } => {
                (s.pos, s.resumed) = (*step, *resumed);
                let rate = s.pos.saturating_sub(s.start.0 + s.resumed) as f64 / s.start.1.elapsed().as_secs_f64().max(1e-9);
                let last = last_run.as_ref().map(|id| format!(", last {id}")).unwrap_or_default();
                format!("{rate:.0} steps/s  {runs_done} runs measured{last}")
            }
            Progress::RunFailed { id, error } => {
                let line = format!("run {id} failed: {error}");
                match &s.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
                return;
            }
        };
        if let Some(bar) = &s.bar {
            bar.set_position(s.pos);
            if matches!(p, Progress::Experiment { .. }) && s.resumed != resumed_before {
                // The jump was found done, not done now: estimate from here on.
                bar.reset_eta();
            }
            bar.set_message(message);
            return;
        }
        let percent = 100 * s.pos / s.total.max(1);
        if percent >= s.next_percent || s.last_line.elapsed() >= LINE_EVERY {
            s.next_percent = (percent / LINE_PERCENT + 1) * LINE_PERCENT;
            s.last_line = Instant::now();
            let elapsed = s.start.1.elapsed().as_secs_f64();
            let done_here = s.pos.saturating_sub(s.start.0 + s.resumed);
            let eta = if done_here == 0 { "?".to_string() } else { duration(elapsed / done_here as f64 * s.total.saturating_sub(s.pos) as f64) };
            eprintln!("[{}] {percent:>3}% {}/{} {}  {message}  eta {eta}", duration(elapsed), s.pos, s.total, s.unit);
        }
    }

    /// Removes the bar (log lines need no ending).
    pub fn finish(&self) {
        if let Some(bar) = self.state.lock().unwrap_or_else(|e| e.into_inner()).bar.take() {
            bar.finish_and_clear();
        }
    }
}
