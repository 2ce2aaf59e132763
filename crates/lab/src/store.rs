//! The run store: one SQLite file per experiment (`runs.sqlite`) recording every run's
//! condition, seed, config, status, timings, verdict and measurements, so a person can query
//! them (`sqlite3 runs/diversity/runs.sqlite 'select * from summary'`) instead of reading
//! scattered prints. Writes are transactions, so a kill never leaves half a result.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use mesascope_report::stats::Estimate;

use crate::LabError;

/// Status of a run in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not started, or killed before finishing (its directory may hold a checkpoint).
    Pending,
    /// Finished and measured.
    Done,
    /// Failed with an error (recorded); rerunning tries it again.
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
}

/// A finished run's row.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// Condition as JSON (`{"env.diversity": "16"}`).
    pub condition: String,
    /// Seed.
    pub seed: u64,
    /// The alignment verdict's label, if audited.
    pub verdict: Option<String>,
}

/// The store of one experiment.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> LabError + '_ {
    move |e| LabError::Store { path: path.to_path_buf(), message: e.to_string() }
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, LabError> {
        let err = db_err(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(&err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS experiment (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS runs (
                 id TEXT PRIMARY KEY, condition TEXT NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL,
                 config TEXT NOT NULL, seconds REAL, verdict TEXT, error TEXT, updated TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS results (
                 run_id TEXT NOT NULL REFERENCES runs(id), metric TEXT NOT NULL,
                 mean REAL, lo REAL, hi REAL, n INTEGER, PRIMARY KEY (run_id, metric));
             CREATE VIEW IF NOT EXISTS summary AS
                 SELECT r.condition, r.seed, r.verdict, m.metric, m.mean FROM runs r JOIN results m ON m.run_id = r.id
                 WHERE r.status = 'done' ORDER BY r.condition, m.metric, r.seed;",
        )
        .map_err(&err)?;
        Ok(Store { conn, path: path.to_path_buf() })
    }

    /// Records the spec the store belongs to; a store made for a different spec is refused,
    /// so a rerun never mixes runs of two experiments.
    pub fn bind_spec(&self, spec_text: &str) -> Result<(), LabError> {
        let err = db_err(&self.path);
        let old: Option<String> = self.conn.query_row("SELECT value FROM experiment WHERE key = 'spec'", [], |r| r.get(0)).optional().map_err(&err)?;
        match old {
            Some(old) if old != spec_text => Err(LabError::Store {
                path: self.path.clone(),
                message: "holds runs of a different experiment spec; choose another --out or delete it".into(),
            }),
            Some(_) => Ok(()),
            None => {
                self.conn.execute("INSERT INTO experiment (key, value) VALUES ('spec', ?1)", [spec_text]).map_err(&err)?;
                Ok(())
            }
        }
    }

    /// The stored spec text, if any.
    pub fn spec_text(&self) -> Result<Option<String>, LabError> {
        self.conn.query_row("SELECT value FROM experiment WHERE key = 'spec'", [], |r| r.get(0)).optional().map_err(db_err(&self.path))
    }

    /// Adds a run as pending unless it is already known.
    pub fn register(&self, id: &str, condition: &str, seed: u64, config: &str) -> Result<(), LabError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO runs (id, condition, seed, status, config, updated) VALUES (?1, ?2, ?3, 'pending', ?4, datetime('now'))",
                params![id, condition, seed as i64, config],
            )
            .map_err(db_err(&self.path))?;
        Ok(())
    }

    /// A run's status.
    pub fn status(&self, id: &str) -> Result<Status, LabError> {
        let s: Option<String> = self.conn.query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0)).optional().map_err(db_err(&self.path))?;
        Ok(match s.as_deref() {
            Some("done") => Status::Done,
            Some("failed") => Status::Failed,
            _ => Status::Pending,
        })
    }

    /// Marks a run done with its measurements, in one transaction.
    pub fn finish(&mut self, id: &str, seconds: f64, verdict: Option<&str>, results: &[(String, Estimate)]) -> Result<(), LabError> {
        let err = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute("DELETE FROM results WHERE run_id = ?1", [id]).map_err(&err)?;
        for (metric, e) in results {
            tx.execute(
                "INSERT INTO results (run_id, metric, mean, lo, hi, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, metric, finite(e.mean), finite(e.lo), finite(e.hi), e.n as i64],
            )
            .map_err(&err)?;
        }
        tx.execute(
            "UPDATE runs SET status = ?2, seconds = ?3, verdict = ?4, error = NULL, updated = datetime('now') WHERE id = ?1",
            params![id, Status::Done.name(), seconds, verdict],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Marks a run failed with its error.
    pub fn fail(&self, id: &str, error: &str) -> Result<(), LabError> {
        self.conn
            .execute("UPDATE runs SET status = 'failed', error = ?2, updated = datetime('now') WHERE id = ?1", params![id, error])
            .map_err(db_err(&self.path))?;
        Ok(())
    }

    /// Every finished run.
    pub fn done_runs(&self) -> Result<Vec<RunRow>, LabError> {
        let err = db_err(&self.path);
        let mut q = self.conn.prepare("SELECT id, condition, seed, verdict FROM runs WHERE status = 'done' ORDER BY id").map_err(&err)?;
        let rows = q
            .query_map([], |r| Ok(RunRow { id: r.get(0)?, condition: r.get(1)?, seed: r.get::<_, i64>(2)? as u64, verdict: r.get(3)? }))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }

    /// One run's measurements: `(metric, mean)`.
    pub fn results(&self, id: &str) -> Result<Vec<(String, f64)>, LabError> {
        let err = db_err(&self.path);
        let mut q = self.conn.prepare("SELECT metric, mean FROM results WHERE run_id = ?1 ORDER BY metric").map_err(&err)?;
        let rows = q
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN))))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(rows)
    }

    /// Runs by status: `(pending, done, failed)`.
    pub fn counts(&self) -> Result<(usize, usize, usize), LabError> {
        let count = |s: &str| -> Result<usize, LabError> {
            self.conn.query_row("SELECT COUNT(*) FROM runs WHERE status = ?1", [s], |r| r.get::<_, i64>(0)).map(|n| n as usize).map_err(db_err(&self.path))
        };
        Ok((count("pending")?, count("done")?, count("failed")?))
    }
}

/// SQLite has no NaN: store it as NULL.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}
