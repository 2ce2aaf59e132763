//! TensorBoard event files: scalars that TensorBoard (and anything reading its format) shows
//! beside a run's `metrics.csv`.
//!
//! The format is small and stable, and the Rust writer crates are unmaintained, so it is
//! written here: a file of records, each `length: u64 LE`, `masked_crc32c(length): u32 LE`,
//! `data`, `masked_crc32c(data): u32 LE`, where `data` is a serialized `tensorflow.Event`
//! protobuf. The first event carries `file_version = "brain.Event:2"`; each later one a
//! `wall_time`, a `step` and a `Summary` of `(tag, simple_value)` pairs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// CRC32C of `bytes`, masked as TensorFlow's record format masks it (so that a CRC of data
/// that itself holds CRCs stays well distributed).
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends a protobuf varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field (wire type 2).
fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A serialized `Event` with `wall_time` (field 1, double), `step` (field 2, int64) and either
/// `file_version` (field 3) or a `Summary` (field 5) of `Value { tag: 1, simple_value: 2 }`.
fn event(wall_time: f64, step: i64, file_version: Option<&str>, scalars: &[(&str, f32)]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, 1 << 3 | 1);
    out.extend_from_slice(&wall_time.to_le_bytes());
    varint(&mut out, 2 << 3);
    varint(&mut out, step as u64);
    if let Some(version) = file_version {
        bytes_field(&mut out, 3, version.as_bytes());
    }
    if !scalars.is_empty() {
        let mut summary = Vec::new();
        for (tag, value) in scalars {
            let mut v = Vec::new();
            bytes_field(&mut v, 1, tag.as_bytes());
            varint(&mut v, 2 << 3 | 5);
            v.extend_from_slice(&value.to_le_bytes());
            bytes_field(&mut summary, 1, &v);
        }
        bytes_field(&mut out, 5, &summary);
    }
    out
}

/// One record of the event file: the framed `data`.
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// An open event file that scalars are appended to, each write flushed so that TensorBoard
/// sees a running job's progress.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// Creates `events.out.tfevents.<seconds>.mesascope.<pid>.<n>` in `dir` (TensorBoard reads
    /// every file of that name pattern in a directory; `n` counts up past files already there,
    /// so a writer never truncates another's) and writes its header event.
    pub fn create(dir: &Path) -> Result<EventWriter, crate::WriteError> {
        let wall = now();
        std::fs::create_dir_all(dir).map_err(|source| crate::WriteError { path: dir.to_path_buf(), source })?;
        let mut n = 0;
        let (path, file) = loop {
            let path = dir.join(format!("events.out.tfevents.{}.mesascope.{}.{n}", wall as u64, std::process::id()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(source) => return Err(crate::WriteError { path, source }),
            }
        };
        let mut w = EventWriter { path, file: BufWriter::new(file) };
        w.write(&record(&event(wall, 0, Some("brain.Event:2"), &[])))?;
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the scalars `(tag, value)` at `step`; non-finite values are left out (TensorBoard
    /// cannot draw them).
    pub fn scalars(&mut self, step: u64, scalars: &[(&str, f64)]) -> Result<(), crate::WriteError> {
        let finite: Vec<(&str, f32)> = scalars.iter().filter(|(_, v)| v.is_finite()).map(|(t, v)| (*t, *v as f32)).collect();
        if finite.is_empty() {
            return Ok(());
        }
        self.write(&record(&event(now(), step as i64, None, &finite)))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), crate::WriteError> {
        let path = self.path.clone();
        self.file.write_all(bytes).and_then(|_| self.file.flush()).map_err(|source| crate::WriteError { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a protobuf varint at `*at`.
    fn read_varint(b: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*at];
            *at += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    #[test]
    fn crc32c_is_the_castagnoli_checksum_and_masked_as_tensorflow_masks_it() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(masked_crc32c(b"123456789"), 0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8));
    }

    #[test]
    fn records_frame_events_that_decode_to_the_scalars_written() {
        let dir = std::env::temp_dir().join(format!("mesascope-tb-{}", std::process::id()));
        let mut w = EventWriter::create(&dir).unwrap();
        w.scalars(2048, &[("charts/episodic_return", 0.5), ("losses/approx_kl", f64::NAN), ("charts/SPS", 1234.0)]).unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        let mut events = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            assert_eq!(u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()), masked_crc32c(&bytes[at..at + 8]));
            let data = &bytes[at + 12..at + 12 + len];
            assert_eq!(u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap()), masked_crc32c(data));
            events.push(data.to_vec());
            at += 16 + len;
        }
        assert_eq!(events.len(), 2);
        let again = EventWriter::create(&dir).unwrap();
        assert_ne!(again.path(), w.path(), "a second writer in the same second gets its own file");
        assert!(events[0].windows(13).any(|w| w == b"brain.Event:2"));
        // The second event: wall time, step 2048, and a summary of the two finite scalars.
        let e = &events[1];
        let mut at = 9; // field 1 tag + 8-byte double
        assert_eq!(read_varint(e, &mut at), 2 << 3);
        assert_eq!(read_varint(e, &mut at), 2048);
        assert_eq!(read_varint(e, &mut at), 5 << 3 | 2);
        let summary_len = read_varint(e, &mut at) as usize;
        let summary = &e[at..at + summary_len];
        let mut found = Vec::new();
        let mut s = 0;
        while s < summary.len() {
            assert_eq!(read_varint(summary, &mut s), 1 << 3 | 2);
            let vlen = read_varint(summary, &mut s) as usize;
            let v = &summary[s..s + vlen];
            let mut p = 0;
            assert_eq!(read_varint(v, &mut p), 1 << 3 | 2);
            let tlen = read_varint(v, &mut p) as usize;
            let tag = String::from_utf8(v[p..p + tlen].to_vec()).unwrap();
            p += tlen;
            assert_eq!(read_varint(v, &mut p), 2 << 3 | 5);
            found.push((tag, f32::from_le_bytes(v[p..p + 4].try_into().unwrap())));
            s += vlen;
        }
        assert_eq!(found, vec![("charts/episodic_return".to_string(), 0.5), ("charts/SPS".to_string(), 1234.0)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
