//! Content digests kept on disk, keyed by what `stat` says about every file
//! and directory they cover (device, inode, size, modification and change
//! times, mode), as git's index keeps file hashes: Terraform plans twice per
//! apply, each time in a new provider process, and a large file must not be
//! read in full at each. A file that changed in any of those is read again.
//!
//! Racy timestamps (git's "racily clean" entries): a file written in the same
//! second as it was hashed may change again without its timestamps moving on
//! a coarse-grained file system, so a digest is kept only when every file is
//! more than a second older than the hashing, and only when nothing changed
//! while it ran. Nothing depends on the cache for correctness: a lost or
//! garbled file only costs a re-read.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries kept; the oldest go first.
const MAX_ENTRIES: usize = 512;

/// The `stat` facts of a file set: its key, and its newest timestamp.
#[derive(Debug, PartialEq, Eq)]
pub struct Stamp {
    pub key: String,
    newest: Duration,
}

/// `rel` under `root`. Symlinks are followed, as the digest and the upload
/// follow them, so the depth is bounded: a loop ends in an error, not a crash.
pub(super) fn entry_path(root: &Path, rel: &str) -> std::io::Result<PathBuf> {
    if rel.matches('/').count() > 64 {
        return Err(std::io::Error::other(format!(
            "{rel}: nested too deep (a symlink loop?)"
        )));
    }
    Ok(if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    })
}

fn walk(h: &mut Sha256, newest: &mut Duration, root: &Path, rel: &str) -> std::io::Result<()> {
    let path = entry_path(root, rel)?;
    let m = std::fs::metadata(&path)?;
    let mtime = Duration::new(
        m.mtime().max(0) as u64,
        m.mtime_nsec().clamp(0, 999_999_999) as u32,
    );
    let ctime = Duration::new(
        m.ctime().max(0) as u64,
        m.ctime_nsec().clamp(0, 999_999_999) as u32,
    );
    *newest = (*newest).max(mtime).max(ctime);
    h.update(format!(
        "{rel}\0{} {} {} {} {:?} {:?}\n",
        m.dev(),
        m.ino(),
        m.size(),
        m.mode(),
        mtime,
        ctime
    ));
    if m.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&path)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().to_string()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for n in names {
            let child = if rel.is_empty() {
                n
            } else {
                format!("{rel}/{n}")
            };
            walk(h, newest, root, &child)?;
        }
    }
    Ok(())
}

/// The stamp of `paths` (directories recursively); reads no file content.
pub fn stamp(paths: &[String]) -> std::io::Result<Stamp> {
    let mut h = Sha256::new();
    // The digest's own format: a new one must not be served an old digest.
    h.update("golden content digest v1\n");
    let mut newest = Duration::ZERO;
    for p in paths {
        h.update(format!("P {p}\n"));
        walk(&mut h, &mut newest, Path::new(p), "")?;
    }
    Ok(Stamp {
        key: hex::encode(h.finalize()),
        newest,
    })
}

/// The cache file: one JSON object, key → digest, in insertion order.
pub struct Cache {
    path: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Entries {
    /// key → (sequence, digest)
    entries: BTreeMap<String, (u64, String)>,
    next: u64,
}

impl Cache {
    pub fn at(path: PathBuf) -> Self {
        Cache { path }
    }

    /// The working directory's cache, beside Terraform's own `.terraform`
    /// (none where there is no `.terraform`: not a Terraform directory).
    pub fn in_working_dir() -> Option<Self> {
        let dir = Path::new(".terraform");
        dir.is_dir()
            .then(|| Cache::at(dir.join("golden-digests.json")))
    }

    fn load(&self) -> Entries {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, stamp: &Stamp) -> Option<String> {
        self.load().entries.remove(&stamp.key).map(|(_, d)| d)
    }

    /// Keeps `digest` for `before` if the files are old enough to trust their
    /// timestamps (`hashed_at`: when the hashing began) and `after` (the
    /// stamp taken once it ended) shows that nothing changed meanwhile.
    /// Returns whether it was kept.
    pub fn put(&self, before: &Stamp, after: &Stamp, hashed_at: SystemTime, digest: &str) -> bool {
        let now = hashed_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        if before != after || before.newest + Duration::from_secs(1) >= now {
            return false;
        }
        let mut e = self.load();
        let seq = e.next;
        e.next += 1;
        e.entries
            .insert(before.key.clone(), (seq, digest.to_string()));
        while e.entries.len() > MAX_ENTRIES {
            let Some(oldest) = e
                .entries
                .iter()
                .min_by_key(|(_, (s, _))| *s)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            e.entries.remove(&oldest);
        }
        let Ok(body) = serde_json::to_vec(&e) else {
            return false;
        };
        // Parallel resources and processes write it: aside, then renamed.
        let tmp = self
            .path
            .with_extension(format!("{}.{seq}.tmp", std::process::id()));
        if std::fs::write(&tmp, body).is_err() {
            return false;
        }
        std::fs::rename(&tmp, &self.path).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    fn write(p: &Path, body: &str, age: Duration) {
        if let Err(e) = std::fs::write(p, body) {
            panic!("{e}")
        }
        let when = SystemTime::now() - age;
        let f = std::fs::File::options().write(true).open(p);
        if let Ok(f) = f {
            let _ = f.set_modified(when);
        }
    }

    fn stamped(p: &Path) -> Stamp {
        match stamp(&[p.display().to_string()]) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_unchanged_old_file_is_served_from_the_cache() {
        let t = tmp();
        let f = t.path().join("big.bin");
        write(&f, "content", Duration::from_secs(60));
        // The change time is now: hashing later than a second after it.
        let c = Cache::at(t.path().join("cache.json"));
        let s = stamped(&f);
        let later = SystemTime::now() + Duration::from_secs(2);
        assert!(c.put(&s, &stamped(&f), later, "d1"));
        assert_eq!(c.get(&stamped(&f)).as_deref(), Some("d1"));
    }

    #[test]
    fn a_file_hashed_in_the_second_it_changed_is_not_kept() {
        let t = tmp();
        let f = t.path().join("racy.bin");
        write(&f, "content", Duration::ZERO);
        let c = Cache::at(t.path().join("cache.json"));
        let s = stamped(&f);
        assert!(!c.put(&s, &stamped(&f), SystemTime::now(), "d1"));
        assert_eq!(c.get(&s), None);
    }

    #[test]
    fn a_changed_file_is_a_miss_even_with_its_old_size_and_mtime() {
        let t = tmp();
        let f = t.path().join("f.bin");
        write(&f, "aaaa", Duration::from_secs(60));
        let c = Cache::at(t.path().join("cache.json"));
        let s = stamped(&f);
        assert!(c.put(
            &s,
            &stamped(&f),
            SystemTime::now() + Duration::from_secs(2),
            "d1"
        ));
        // Same size, mtime put back: the change time still moved.
        std::thread::sleep(Duration::from_millis(20));
        write(&f, "bbbb", Duration::from_secs(60));
        let now = stamped(&f);
        assert_ne!(now, s);
        assert_eq!(c.get(&now), None);
    }

    #[test]
    fn a_file_changed_while_hashed_is_not_kept() {
        let t = tmp();
        let f = t.path().join("f.bin");
        write(&f, "aaaa", Duration::from_secs(60));
        let c = Cache::at(t.path().join("cache.json"));
        let before = stamped(&f);
        std::thread::sleep(Duration::from_millis(20));
        write(&f, "bbbbbb", Duration::from_secs(60));
        let later = SystemTime::now() + Duration::from_secs(2);
        assert!(!c.put(&before, &stamped(&f), later, "d1"));
    }

    #[test]
    fn a_new_file_in_a_directory_changes_its_stamp() {
        let t = tmp();
        let d = t.path().join("dir");
        if let Err(e) = std::fs::create_dir(&d) {
            panic!("{e}")
        }
        write(&d.join("a"), "a", Duration::from_secs(60));
        let s = stamped(&d);
        write(&d.join("b"), "b", Duration::from_secs(60));
        assert_ne!(stamped(&d), s);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let t = tmp();
        let c = Cache::at(t.path().join("cache.json"));
        let later = SystemTime::now() + Duration::from_secs(2);
        for i in 0..MAX_ENTRIES + 3 {
            let s = Stamp {
                key: format!("k{i}"),
                newest: Duration::ZERO,
            };
            let s2 = Stamp {
                key: format!("k{i}"),
                newest: Duration::ZERO,
            };
            assert!(c.put(&s, &s2, later, "d"));
        }
        let e = c.load();
        assert_eq!(e.entries.len(), MAX_ENTRIES);
        assert!(!e.entries.contains_key("k0") && e.entries.contains_key("k3"));
    }
}
