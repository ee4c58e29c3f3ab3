//! Digests that let the plan see what a bake would make: the content of the
//! local files each step uses, and one digest over every input that shapes
//! the image. Equal digests mean nothing to rebake.

use super::digest_cache::{Cache, entry_path, stamp};
use super::schema::schema;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The local paths a `provision` block reads, or None while any is unknown.
pub fn step_files(step: &Value) -> Option<Vec<String>> {
    let (shell, file) = (step.get("shell"), step.get("file"));
    let mut vals: Vec<&Value> = vec![shell.get("script")];
    vals.extend(shell.get("scripts").as_list());
    // A download reads the instance, not local files.
    let download = file.get("direction").as_str() == Some("download");
    if !download {
        vals.push(file.get("source"));
        vals.extend(file.get("sources").as_list());
    }
    if shell.get("scripts").is_unknown_or_partial()
        || file.get("sources").is_unknown_or_partial()
        || file.get("direction").is_unknown_or_partial()
    {
        return None;
    }
    let mut out = Vec::new();
    for v in vals {
        match v {
            Value::Null => {}
            Value::String(s) => out.push(s.clone()),
            _ => return None,
        }
    }
    Some(out)
}

fn hash_path(h: &mut Sha256, root: &Path, rel: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = entry_path(root, rel)?;
    let meta = std::fs::metadata(&path)?;
    let mode = meta.permissions().mode() & 0o7777;
    if meta.is_dir() {
        h.update(format!("D {rel} {mode:o}\n"));
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
            hash_path(h, root, &child)?;
        }
    } else {
        h.update(format!("F {rel} {mode:o} {}\n", meta.len()));
        let mut f = std::fs::File::open(&path)?;
        std::io::copy(&mut f, h)?;
    }
    Ok(())
}

/// SHA-256 over the files (directories recursively: names, modes, contents).
fn hash_paths(paths: &[String]) -> Result<String, String> {
    let mut h = Sha256::new();
    for p in paths {
        h.update(format!("P {p}\n"));
        hash_path(&mut h, Path::new(p), "").map_err(|e| format!("{p}: {e}"))?;
    }
    Ok(hex::encode(h.finalize()))
}

/// The digest of `paths` (see `hash_paths`), read once per version of the
/// files: later plans take it from the working directory's cache
/// (`digest_cache.rs`). Runs off the async runtime; the files may be large.
pub async fn content_digest(paths: Vec<String>) -> Result<Option<String>, String> {
    content_digest_with(paths, Cache::in_working_dir()).await
}

async fn content_digest_with(
    paths: Vec<String>,
    cache: Option<Cache>,
) -> Result<Option<String>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    tokio::task::spawn_blocking(move || {
        let Some(cache) = cache else {
            return hash_paths(&paths).map(Some);
        };
        let hashed_at = std::time::SystemTime::now();
        // An unreadable path fails in the hashing, with its message.
        let Ok(before) = stamp(&paths) else {
            return hash_paths(&paths).map(Some);
        };
        if let Some(d) = cache.get(&before) {
            tracing::debug!(?paths, "content digest from the cache");
            return Ok(Some(d));
        }
        let d = hash_paths(&paths)?;
        if let Ok(after) = stamp(&paths) {
            cache.put(&before, &after, hashed_at, &d);
        }
        Ok(Some(d))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Fills `provision[*].content_digest` in `v` (with `only_unknown`, just
/// those still unknown); Unknown where a path is unknown.
pub async fn fill_content_digests(
    v: &mut Value,
    only_unknown: bool,
) -> Result<(), (usize, String)> {
    let Value::Map(m) = v else { return Ok(()) };
    let Some(Value::List(steps)) = m.get_mut("provision") else {
        return Ok(());
    };
    for (i, step) in steps.iter_mut().enumerate() {
        if only_unknown && !step.get("content_digest").is_unknown_or_partial() {
            continue;
        }
        let d = match step_files(step) {
            None => Value::Unknown,
            Some(files) => Value::opt_string(content_digest(files).await.map_err(|e| (i, e))?),
        };
        step.set("content_digest", d);
    }
    Ok(())
}

/// Fills `user_data_file_digest` from the file's content (with
/// `only_unknown`, only while it is unknown): null without a file, Unknown
/// while the path is.
pub async fn fill_user_data_digest(v: &mut Value, only_unknown: bool) -> Result<(), String> {
    if only_unknown && !v.get("user_data_file_digest").is_unknown_or_partial() {
        return Ok(());
    }
    let d = match v.get("user_data_file") {
        Value::Null => Value::Null,
        Value::String(p) => Value::opt_string(content_digest(vec![p.clone()]).await?),
        _ => Value::Unknown,
    };
    v.set("user_data_file_digest", d);
    Ok(())
}

/// One digest over every input that shapes the image (the attributes and
/// blocks whose definitions say `digest`); Unknown while any is. Absent
/// (null) and write-only values take no part, so a new optional attribute
/// changes no existing image's digest.
pub fn input_digest(v: &Value) -> Value {
    let s = schema();
    // Write-only values never take part: Terraform 1.11+ keeps them out of
    // plans and state while 1.0 stores them, so the digest would depend on
    // the Terraform version; and a hash of a secret is no tag to publish.
    let mut v = v.clone();
    s.block.null_write_only(&mut v);
    let attrs = s.block.attrs.iter().filter(|a| a.digest).map(|a| a.name);
    let blocks = s.block.blocks.iter().filter(|b| b.digest).map(|b| b.name);
    let parts: BTreeMap<String, Value> = attrs
        .chain(blocks)
        .map(|name| (name.to_string(), v.get(name).clone()))
        .collect();
    let all = without_nulls(Value::Map(parts));
    if !all.is_wholly_known() {
        return Value::Unknown;
    }
    Value::string(hex::encode(Sha256::digest(all.encode_msgpack())))
}

/// Drops null entries from every object inside `v`.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(
            m.into_iter()
                .filter(|(_, i)| !i.is_null())
                .map(|(k, i)| (k, without_nulls(i)))
                .collect(),
        ),
        Value::List(l) => Value::List(l.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Inputs unknown at plan time are known at apply: their digests are made
/// now, and what could not be read is null (Terraform rejects unknowns in a
/// new state).
pub(super) async fn finish_digests(state: &mut Value, diags: &mut Diagnostics) {
    if state.get("input_digest").is_unknown_or_partial() {
        if let Err((i, e)) = fill_content_digests(state, true).await {
            diags.push(
                Diagnostic::error("Cannot read a provisioning file", e)
                    .at(AttrPath::root("provision").index(i)),
            );
        }
        if let Err(e) = fill_user_data_digest(state, true).await {
            diags.push(
                Diagnostic::error("Cannot read user_data_file", e)
                    .at(AttrPath::root("user_data_file")),
            );
        }
        let d = input_digest(state);
        state.set("input_digest", d);
        null_unknowns(state);
    }
}

/// Replaces any value still unknown with null.
fn null_unknowns(v: &mut Value) {
    match v {
        Value::Unknown => *v = Value::Null,
        Value::List(items) => items.iter_mut().for_each(null_unknowns),
        Value::Map(m) => m.values_mut().for_each(null_unknowns),
        _ => {}
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[tokio::test]
    async fn a_file_version_is_read_once_and_a_changed_one_again() {
        let Ok(t) = tempfile::tempdir() else {
            panic!("no temp dir")
        };
        let f = t.path().join("payload.bin");
        let paths = vec![f.display().to_string()];
        let old = SystemTime::now() - Duration::from_secs(60);
        let write = |body: &str| {
            if let Err(e) = std::fs::write(&f, body) {
                panic!("{e}")
            }
            if let Ok(h) = std::fs::File::options().write(true).open(&f) {
                let _ = h.set_modified(old);
            }
        };
        write("version 1");
        let cache = || Some(Cache::at(t.path().join("digests.json")));
        let plain = content_digest_with(paths.clone(), None).await;
        // The change time is this second: not trusted yet, so read and not kept.
        assert_eq!(content_digest_with(paths.clone(), cache()).await, plain);
        assert!(!t.path().join("digests.json").exists());
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(content_digest_with(paths.clone(), cache()).await, plain);
        // Now kept: what the cache says is what a plan gets, without a read.
        let Ok(s) = stamp(&paths) else {
            panic!("stamp")
        };
        let Some(c) = cache() else { panic!() };
        let later = SystemTime::now() + Duration::from_secs(2);
        assert!(c.put(&s, &s, later, "from-the-cache"));
        assert_eq!(
            content_digest_with(paths.clone(), cache()).await,
            Ok(Some("from-the-cache".into()))
        );
        // A new version (same size, same mtime) is read again.
        write("version 2");
        let fresh = content_digest_with(paths.clone(), cache()).await;
        assert_eq!(fresh, content_digest_with(paths.clone(), None).await);
        assert_ne!(fresh, plain);
    }
}
