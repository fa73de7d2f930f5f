//! TensorBoard event files: a small synchronous writer for scalar summaries and a reader that
//! verifies every record.
//!
//! Format (what TensorBoard's `EventFileLoader` reads): a file
//! `events.out.tfevents.<unix secs>.<host>.<pid>.<uid><suffix>` holding TFRecords — `u64` LE
//! payload length, `u32` LE masked CRC-32C of those 8 bytes, the payload, `u32` LE masked
//! CRC-32C of the payload — whose payloads are `tensorflow.Event` protobufs. The first event
//! carries `file_version = "brain.Event:2"`; each scalar is an event with `wall_time` (s),
//! `step` and `summary.value[{tag, simple_value}]`, as PyTorch's `SummaryWriter.add_scalar`
//! writes them.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Errors of event-file reading and writing.
#[derive(Debug, thiserror::Error)]
pub enum EventFileError {
    /// File-system error.
    #[error("event file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file ends inside a record.
    #[error("event file truncated at byte {0}")]
    Truncated(u64),
    /// A length or payload checksum does not match.
    #[error("event file record at byte {offset}: {what} CRC mismatch")]
    Crc {
        /// Byte offset of the record.
        offset: u64,
        /// "length" or "data".
        what: &'static str,
    },
    /// A payload is not a well-formed Event protobuf.
    #[error("event file record at byte {offset}: malformed protobuf ({why})")]
    Protobuf {
        /// Byte offset of the record.
        offset: u64,
        /// What was wrong.
        why: &'static str,
    },
}

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), as TFRecord uses it.

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C_TABLE: [u32; 256] = crc32c_table();

/// CRC-32C (Castagnoli polynomial, reflected) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC32C_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// TFRecord's masked CRC: `rotr(crc, 15) + 0xa282ead8`.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Frames one payload as a TFRecord.
pub fn tfrecord(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// The few protobuf fields of tensorflow.Event / Summary / Summary.Value that scalars use.

/// One decoded `tensorflow.Event` (only the fields scalar logging uses).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Wall-clock time, seconds since the Unix epoch.
    pub wall_time: f64,
    /// Global step.
    pub step: i64,
    /// `file_version` (set on the first event of a file).
    pub file_version: Option<String>,
    /// `summary.value[*]` entries that carry a `simple_value`: (tag, value).
    pub scalars: Vec<(String, f32)>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

impl Event {
    /// Protobuf encoding (fields: 1 wall_time double, 2 step int64, 3 file_version string,
    /// 5 summary { 1 value { 1 tag string, 2 simple_value float } }).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(1 << 3 | 1);
        out.extend_from_slice(&self.wall_time.to_le_bytes());
        if self.step != 0 {
            put_varint(&mut out, 2 << 3);
            put_varint(&mut out, self.step as u64);
        }
        if let Some(v) = &self.file_version {
            put_len_delimited(&mut out, 3, v.as_bytes());
        }
        if !self.scalars.is_empty() {
            let mut summary = Vec::new();
            for (tag, value) in &self.scalars {
                let mut val = Vec::new();
                put_len_delimited(&mut val, 1, tag.as_bytes());
                val.push(2 << 3 | 5);
                val.extend_from_slice(&value.to_le_bytes());
                put_len_delimited(&mut summary, 1, &val);
            }
            put_len_delimited(&mut out, 5, &summary);
        }
        out
    }

    /// Decodes an Event payload, skipping fields it does not use.
    pub fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let mut ev = Event {
            wall_time: 0.0,
            step: 0,
            file_version: None,
            scalars: Vec::new(),
        };
        let mut r = ProtoReader::new(bytes);
        while let Some((field, wire)) = r.key()? {
            match (field, wire) {
                (1, 1) => ev.wall_time = f64::from_le_bytes(r.fixed::<8>()?),
                (2, 0) => ev.step = r.varint()? as i64,
                (3, 2) => {
                    let s = r.bytes()?;
                    ev.file_version =
                        Some(String::from_utf8(s.to_vec()).map_err(|_| "file_version not UTF-8")?);
                }
                (5, 2) => {
                    let mut summary = ProtoReader::new(r.bytes()?);
                    while let Some((f, w)) = summary.key()? {
                        if (f, w) == (1, 2) {
                            if let Some(s) = decode_value(summary.bytes()?)? {
                                ev.scalars.push(s);
                            }
                        } else {
                            summary.skip(w)?;
                        }
                    }
                }
                (_, w) => r.skip(w)?,
            }
        }
        Ok(ev)
    }
}

fn decode_value(bytes: &[u8]) -> Result<Option<(String, f32)>, &'static str> {
    let mut r = ProtoReader::new(bytes);
    let mut tag = String::new();
    let mut value = None;
    while let Some((f, w)) = r.key()? {
        match (f, w) {
            (1, 2) => tag = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| "tag not UTF-8")?,
            (2, 5) => value = Some(f32::from_le_bytes(r.fixed::<4>()?)),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(value.map(|v| (tag, v)))
}

struct ProtoReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ProtoReader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long")
    }

    fn key(&mut self) -> Result<Option<(u64, u8)>, &'static str> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let k = self.varint()?;
        Ok(Some((k >> 3, (k & 7) as u8)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflow")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.varint()? as usize;
        self.take(n)
    }

    fn skip(&mut self, wire: u8) -> Result<(), &'static str> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4).map(|_| ()),
            _ => Err("unsupported wire type"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer and reader.

static WRITER_UID: AtomicU64 = AtomicU64::new(0);

fn hostname() -> String {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string());
    from_file
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Writes scalar summaries to one new event file (synchronously; no background thread).
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir` (and parents) and a new event file in it whose name ends in
    /// `filename_suffix`; writes the `brain.Event:2` header record.
    pub fn create(dir: &Path, filename_suffix: &str) -> Result<Self, EventFileError> {
        std::fs::create_dir_all(dir)?;
        let host = hostname();
        let pid = std::process::id();
        let (file, path) = loop {
            let secs = now_secs() as u64;
            let uid = WRITER_UID.fetch_add(1, Ordering::Relaxed);
            let name =
                format!("events.out.tfevents.{secs:010}.{host}.{pid}.{uid}{filename_suffix}");
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut w = Self {
            path,
            out: BufWriter::new(file),
        };
        w.write_event(&Event {
            wall_time: now_secs(),
            step: 0,
            file_version: Some("brain.Event:2".to_string()),
            scalars: Vec::new(),
        })?;
        w.flush()?;
        Ok(w)
    }

    /// Path of the event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event record.
    pub fn write_event(&mut self, event: &Event) -> Result<(), EventFileError> {
        self.out.write_all(&tfrecord(&event.encode()))?;
        Ok(())
    }

    /// Appends a scalar `value` under `tag` at `step` (TensorBoard stores it as f32).
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> Result<(), EventFileError> {
        self.write_event(&Event {
            wall_time: now_secs(),
            step,
            file_version: None,
            scalars: vec![(tag.to_string(), value)],
        })
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) -> Result<(), EventFileError> {
        self.out.flush()?;
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Reads every event of one event file, verifying both CRCs of every record.
pub fn read_events(path: &Path) -> Result<Vec<Event>, EventFileError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut events = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let offset = pos as u64;
        let header = bytes
            .get(pos..pos + 12)
            .ok_or(EventFileError::Truncated(offset))?;
        let len_bytes = &header[..8];
        let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if masked_crc32c(len_bytes) != crc {
            return Err(EventFileError::Crc {
                offset,
                what: "length",
            });
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(len_bytes);
        let len = usize::try_from(u64::from_le_bytes(len))
            .map_err(|_| EventFileError::Truncated(offset))?;
        let start = pos + 12;
        let end = start
            .checked_add(len)
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or(EventFileError::Truncated(offset))?;
        let payload = &bytes[start..end];
        let crc = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        if masked_crc32c(payload) != crc {
            return Err(EventFileError::Crc {
                offset,
                what: "data",
            });
        }
        let ev = Event::decode(payload).map_err(|why| EventFileError::Protobuf { offset, why })?;
        events.push(ev);
        pos = end + 4;
    }
    Ok(events)
}

/// Every event file (`events.out.tfevents.*`) directly in `dir`, sorted by name.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>, EventFileError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vectors() {
        // RFC 3720 (iSCSI) B.4 and the classic check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    #[allow(clippy::manual_rotate)] // spelled as in TensorFlow's crc32c::Mask on purpose
    fn masked_crc_matches_tensorflow_definition() {
        let c = crc32c(b"abc");
        assert_eq!(
            masked_crc32c(b"abc"),
            ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn event_roundtrip_and_known_encoding() {
        let ev = Event {
            wall_time: 1.5,
            step: 3,
            file_version: None,
            scalars: vec![("a".to_string(), 2.0)],
        };
        let bytes = ev.encode();
        // 09 <f64 1.5> 10 03 2a 0a 0a 08 0a 01 'a' 15 <f32 2.0>
        let mut want = vec![0x09];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[0x10, 0x03, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, b'a', 0x15]);
        want.extend_from_slice(&2.0f32.to_le_bytes());
        assert_eq!(bytes, want);
        assert_eq!(Event::decode(&bytes).unwrap(), ev);
    }

    #[test]
    fn writer_reader_roundtrip_and_crc_detection() {
        let dir = std::env::temp_dir().join(format!("tailor-tb-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = {
            let mut w = EventWriter::create(&dir, "").unwrap();
            w.add_scalar("x", 0.25, 0).unwrap();
            w.add_scalar("x", -1.0, 7).unwrap();
            w.path().to_path_buf()
        };
        assert_eq!(event_files(&dir).unwrap(), vec![path.clone()]);
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("events.out.tfevents."));
        let evs = read_events(&path).unwrap();
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].file_version.as_deref(), Some("brain.Event:2"));
        assert_eq!(evs[1].scalars, vec![("x".to_string(), 0.25)]);
        assert_eq!((evs[2].step, evs[2].scalars[0].1), (7, -1.0));
        // Corrupt one payload byte: the data CRC must catch it.
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read_events(&path),
            Err(EventFileError::Crc { what: "data", .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
