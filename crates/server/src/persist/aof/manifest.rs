//! The multi-part AOF manifest (Redis 7 layout): one line per file,
//! `file <name> seq <n> type <b|h|i>`, for the base (`b`), the incremental files (`i`, in
//! order) and history files (`h`, left over from a rewrite, deleted unless
//! `aof-disable-auto-gc`). It is replaced atomically: written to a temporary file, fsynced,
//! renamed over the old one, and the directory fsynced.

use std::io::Write;
use std::path::Path;

/// Kind of an AOF file in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// The base: an RDB (`.base.rdb`) or commands (`.base.aof`).
    Base,
    /// Left over from a rewrite, to be deleted.
    History,
    /// Incremental: commands appended after the base, in order.
    Incr,
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
    /// Its role.
    pub kind: FileType,
}

/// The manifest's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incremental files in sequence order.
    pub incrs: Vec<AofFile>,
    /// History files.
    pub history: Vec<AofFile>,
}

impl Manifest {
    /// Parses the manifest text. Errors are Redis-style messages.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            let mut i = 0;
            while i + 1 < words.len() {
                match words[i] {
                    "file" => name = Some(words[i + 1].to_string()),
                    "seq" => seq = words[i + 1].parse::<u64>().ok(),
                    "type" => {
                        kind = match words[i + 1] {
                            "b" => Some(FileType::Base),
                            "h" => Some(FileType::History),
                            "i" => Some(FileType::Incr),
                            _ => None,
                        }
                    }
                    _ => {}
                }
                i += 2;
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("Invalid AOF manifest file format: {line}"));
            };
            if name.contains('/') {
                return Err(format!("Invalid AOF manifest file format: {line}"));
            }
            let f = AofFile { name, seq, kind };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(f);
                }
                FileType::History => m.history.push(f),
                FileType::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incrs.push(f);
                }
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest text (base, history, then incremental files, as Redis writes it).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |f: &AofFile| {
            let t = match f.kind {
                FileType::Base => 'b',
                FileType::History => 'h',
                FileType::Incr => 'i',
            };
            out.push_str(&format!("file {} seq {} type {}\n", f.name, f.seq, t));
        };
        if let Some(b) = &self.base {
            line(b);
        }
        for h in &self.history {
            line(h);
        }
        for i in &self.incrs {
            line(i);
        }
        out
    }

    /// Highest sequence number of the incremental files (0 without any).
    pub fn last_incr_seq(&self) -> u64 {
        self.incrs.last().map(|f| f.seq).unwrap_or(0)
    }

    /// The files to load, in order: base first, then the incremental files.
    pub fn load_order(&self) -> Vec<&AofFile> {
        self.base.iter().chain(self.incrs.iter()).collect()
    }
}

/// Writes `m` as `dir/name` atomically (temp file + fsync + rename + directory fsync).
pub fn persist(dir: &Path, name: &str, m: &Manifest) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{name}"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(m.to_text().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    fsync_dir(dir)
}

/// Fsyncs a directory (makes renames and creations in it durable).
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_text() {
        let text = "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.to_text(), text);
        assert_eq!(m.last_incr_seq(), 3);
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("").is_err());
    }
}
