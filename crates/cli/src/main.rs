//! The `mesascope` command line: a thin clap front over `mesascope-lab`. Each subcommand
//! parses its flags into a lab job's option struct, calls the job, and prints its result
//! (progress on standard error: a bar on a terminal, log lines elsewhere). The computing is in
//! lab, so the Python package gets the same jobs and a bad value the same error.

mod audit;
mod bench;
mod demo;
mod deploy;
mod eval;
mod experiment;
mod field;
mod levels;
mod play;
mod progress;
mod render;
mod split;
mod replay;
mod show;
mod train;
mod zoo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Experiments on learned optimization: tasks, base optimizers, audits of mesa-optimization,
/// deployment guards (after Hubinger et al. 2019, "Risks from Learned Optimization").
#[derive(Parser)]
#[command(name = "mesascope", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole chain in a few minutes: train small agents on mazes with the cheese in the
    /// top-right K×K region (K = 1, 3, 5, anywhere; 3 seeds each), audit each under the
    /// goal-anywhere shift, and report how often they go to the corner instead of the cheese.
    Quickstart(experiment::QuickstartArgs),
    /// Tour of the task engine: generate and render training and deployment levels, step a
    /// batch of episodes with a random and an optimal policy, and print their returns.
    Demo(demo::DemoArgs),
    /// Train an agent with a base optimizer (PPO) from a TOML config; resumable.
    Train(train::TrainArgs),
    /// Evaluate a trained agent on held-out levels, optionally after a shift.
    Eval(eval::EvalArgs),
    /// Audit an agent: optimization power, mesa-optimizer evidence, objective inference under
    /// a shift, alignment verdict; writes audit.json and audit.html.
    Audit(audit::AuditArgs),
    /// Deploy an agent under a shift with guards (OOD, ensemble, impact; stop or defer on a
    /// veto) and count the catastrophes they prevent; writes deploy.json and deploy.html.
    Deploy(deploy::DeployArgs),
    /// Replay one episode of a trained agent on one level, found by its id (as `eval
    /// --episodes` and audit.json give it), a locator or a level file: every episode draws
    /// its actions from a stream of (seed, level id), so it is the same episode bit for bit.
    Replay(replay::ReplayArgs),
    /// A trained agent's episodes as an animated GIF: on its training distribution, after a
    /// shift, and the exact planner on the same shifted levels, side by side.
    Show(show::ShowArgs),
    /// Draw a trained agent's policy at every square of a level as arrows, beside the exact
    /// planner's (or another agent's) and their difference, as one SVG.
    VectorField(field::FieldArgs),
    /// Run an experiment spec (conditions × seeds, trained and audited in parallel; resumable).
    Run(experiment::RunArgs),
    /// Rewrite an experiment's summary.csv and report.html from its run store.
    Report(experiment::ReportArgs),
    /// Solve the section-2.1 toy model (optimal runtime optimization vs number of instances).
    ToyModel(experiment::ToyArgs),
    /// A zoo of agents whose objectives are known: build it, and score the audit on it.
    #[command(subcommand)]
    Zoo(ZooCommand),
    /// Task families: list them, render levels, play one in the terminal.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Benchmarks that print throughput numbers.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum TasksCommand {
    /// List the task families, shifts, observation kinds and state features.
    List,
    /// Render a level (ASCII to the terminal, and SVG or PNG with --out).
    Render(render::RenderArgs),
    /// Play a level in the terminal with the arrow keys (or w/a/s/d; space waits; q quits).
    Play(play::PlayArgs),
    /// How much of the held-out levels (or another seed's training levels) the training
    /// levels already hold: by id (0 for every train/held-out split) and by layout.
    SplitReport(split::SplitArgs),
}

#[derive(Subcommand)]
enum ZooCommand {
    /// Build a zoo in DIR: hand-written agents (planners, noisy planners, planners of other
    /// objectives, a corner seeker, memorizers, random) and PPO agents trained on planted
    /// objectives and where goal and proxy come apart, each with its intended objective and
    /// expected verdict; resumable.
    Build(zoo::BuildArgs),
    /// Audit every member of the zoo in DIR and print and write (zoo-score.json,
    /// zoo-score.html) the confusion matrix of verdicts and the rates with intervals.
    Score(zoo::ScoreArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Environment steps per second on one core for the batched env with random actions.
    Env(bench::EnvBenchArgs),
    /// Environment steps per second of whole PPO training (acting + learning) per model.
    Train(bench::TrainBenchArgs),
    /// Seconds per stage of a whole audit of one agent (same flags as `mesascope audit`).
    Audit(audit::AuditArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns a closed pipe (`mesascope eval … | head -2`) into a
    // panic in `println!`; a command-line tool should just stop, as other Unix tools do.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Training allocates and frees the same few large tensors (up to ~12 MB) every minibatch.
    // glibc serves blocks above its mmap threshold with fresh mappings and unmaps them on free,
    // so each minibatch paid for zeroed pages again: a third of a cnn update's time went to
    // page faults. Keeping such blocks on the heap (and not trimming it) lets them be reused.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any thread exists; both are documented glibc tunables.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => experiment::run_quickstart(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Show(args) => show::run(&args),
        Command::VectorField(args) => field::run(&args),
        Command::Run(args) => experiment::run(&args),
        Command::Report(args) => experiment::report(&args),
        Command::ToyModel(args) => experiment::toy(&args),
        Command::Zoo(ZooCommand::Build(args)) => zoo::build(&args),
        Command::Zoo(ZooCommand::Score(args)) => zoo::score(&args),
        Command::Tasks(TasksCommand::List) => {
            levels::list();
            Ok(())
        }
        Command::Tasks(TasksCommand::Render(args)) => render::run(&args),
        Command::Tasks(TasksCommand::Play(args)) => play::run(&args),
        Command::Tasks(TasksCommand::SplitReport(args)) => split::run(&args),
        Command::Bench(BenchCommand::Env(args)) => bench::run(&args),
        Command::Bench(BenchCommand::Train(args)) => bench::run_train(&args),
        Command::Bench(BenchCommand::Audit(args)) => audit::bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
