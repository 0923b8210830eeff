//! Replay protection: an index older than one already accepted from the same URL is refused.
//!
//! `expires` bounds how long a stolen index can be replayed, but not within that time: a
//! mirror that stopped syncing, or an attacker on the path, can serve last month's validly
//! signed, unexpired index — without the release that fixed a hole — and fleetup would install
//! from it. So fleetup remembers, per index URL (which names the source and the channel), the
//! newest index time it has accepted, and refuses an older one. The same time is fine (the
//! same index fetched again, or re-signed without a change).
//!
//! The time of an index is the later of its `published` field and the `timestamp:` in its
//! signed trusted comment (minisign's default comment has one; so does every signature
//! `fleetup release` makes). Both are covered by the signature. An index with neither is
//! accepted only while nothing newer was seen from that URL.
//!
//! The record is `<cache>/indexes/<sha256 of the URL>/<unix seconds>.json`, one small file per
//! accepted time, each written to a temporary name and renamed (atomic); the newest is the
//! largest name. Concurrent runs each add their own file, so none can lower another's record;
//! older entries are then removed. Removing the directory forgets the URL (the way to accept a
//! channel that was rolled back on purpose).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use reqwest::Url;
use sha2::{Digest, Sha256};

use super::cache::{Cache, io_err};
use super::{ChannelIndex, ReleaseError, Result};

/// Where accepted index times are remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHistory {
    dir: PathBuf,
}

/// The `timestamp:<unix seconds>` field of a minisign trusted comment (tab-separated fields).
pub fn comment_timestamp(trusted_comment: &str) -> Option<Timestamp> {
    trusted_comment
        .split('\t')
        .find_map(|f| f.trim().strip_prefix("timestamp:"))
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| Timestamp::from_second(secs).ok())
}

/// The time of a verified index: the later of its `published` field and its signature's
/// `timestamp:`, to the second; `None` when it has neither.
pub fn index_time(index: &ChannelIndex, trusted_comment: &str) -> Option<Timestamp> {
    [index.published_at(), comment_timestamp(trusted_comment)]
        .into_iter()
        .flatten()
        .filter_map(|t| Timestamp::from_second(t.as_second()).ok())
        .max()
}

impl IndexHistory {
    /// A history kept in `dir` (created on first record).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The history of a download cache: `<cache>/indexes`.
    pub fn in_cache(cache: &Cache) -> Self {
        Self::new(cache.dir().join("indexes"))
    }

    /// The history of the default cache (see [`Cache::from_env`]).
    pub fn from_env() -> Result<Self> {
        Ok(Self::in_cache(&Cache::from_env()?))
    }

    /// The directory holding the record of `url`.
    pub fn dir_for(&self, url: &Url) -> PathBuf {
        self.dir
            .join(hex::encode(Sha256::digest(url.as_str().as_bytes())))
    }

    /// The newest index time accepted from `url`, if any.
    pub fn newest(&self, url: &Url) -> Result<Option<Timestamp>> {
        let dir = self.dir_for(url);
        Ok(entries(&dir)?
            .into_iter()
            .max()
            .and_then(|s| Timestamp::from_second(s).ok()))
    }

    /// Accepts an index of `url` whose time is `time` (see [`index_time`]): refused with
    /// [`ReleaseError::Replayed`] when older than the newest already accepted (or when it has
    /// no time and some time was accepted), else remembered.
    pub fn accept(&self, url: &Url, time: Option<Timestamp>) -> Result<()> {
        let dir = self.dir_for(url);
        let newest = self.newest(url)?;
        let time = time.and_then(|t| Timestamp::from_second(t.as_second()).ok());
        if let Some(seen) = newest {
            let reason = match time {
                Some(t) if t >= seen => None,
                Some(t) => Some(format!(
                    "index published at {t}, older than the index published at {seen} already accepted from this URL"
                )),
                None => Some(format!(
                    "index with no publication time (no `published` field, no `timestamp:` in its signed comment), while one published at {seen} was already accepted from this URL"
                )),
            };
            if let Some(reason) = reason {
                return Err(ReleaseError::Replayed {
                    url: url.to_string(),
                    reason,
                    state: dir.display().to_string(),
                });
            }
        }
        match time {
            Some(t) if newest.is_none_or(|n| t > n) => record(&dir, url, t),
            _ => Ok(()),
        }
    }
}

/// The accepted times (unix seconds) recorded in `dir`; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<i64>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        if let Some(secs) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<i64>().ok())
        {
            out.push(secs);
        }
    }
    Ok(out)
}

/// Adds `<secs>.json` to `dir` (temp file, fsync, rename), then removes older entries.
fn record(dir: &Path, url: &Url, time: Timestamp) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let secs = time.as_second();
    let dest = dir.join(format!("{secs}.json"));
    let tmp = dir.join(format!(
        ".{secs}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let body = serde_json::json!({
        "url": url.as_str(),
        "published": time.to_string(),
        "accepted": Timestamp::now().to_string(),
    });
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create_new(&tmp)?;
        f.write_all(format!("{body:#}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&dest, e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    // Older entries are no longer needed; removing them never lowers the newest.
    for old in entries(dir)?.into_iter().filter(|&s| s < secs) {
        let _ = std::fs::remove_file(dir.join(format!("{old}.json")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://releases.example.com/demoapp/stable.json").unwrap()
    }

    fn at(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    fn index(published: &str) -> ChannelIndex {
        ChannelIndex {
            product: "demoapp".into(),
            channel: "stable".into(),
            expires: "2030-01-01T00:00:00Z".into(),
            published: published.into(),
            releases: Vec::new(),
        }
    }

    #[test]
    fn the_time_is_the_later_of_published_and_the_signed_timestamp() {
        let comment = "timestamp:1780000000\tfile:stable.json\thashed";
        assert_eq!(
            comment_timestamp(comment),
            Timestamp::from_second(1780000000).ok()
        );
        assert_eq!(comment_timestamp("file:stable.json"), None);
        assert_eq!(comment_timestamp("timestamp:soon"), None);
        let t = |p: &str, c: &str| index_time(&index(p), c).map(|t| t.as_second());
        assert_eq!(t("", comment), Some(1780000000));
        assert_eq!(t("2026-05-01T00:00:00Z", "file:x"), Some(1777593600));
        assert_eq!(t("2026-05-01T00:00:00Z", comment), Some(1780000000));
        assert_eq!(t("2027-01-01T00:00:00.9Z", comment), Some(1798761600));
        assert_eq!(t("", "file:x"), None);
    }

    #[test]
    fn newer_and_equal_pass_older_is_refused_naming_both_times_and_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let h = IndexHistory::new(dir.path());
        assert_eq!(h.newest(&url()).unwrap(), None);
        h.accept(&url(), at("2026-05-01T00:00:00Z")).unwrap();
        h.accept(&url(), at("2026-05-01T00:00:00Z")).unwrap();
        h.accept(&url(), at("2026-06-01T00:00:00Z")).unwrap();
        assert_eq!(h.newest(&url()).unwrap(), at("2026-06-01T00:00:00Z"));

        let e = h.accept(&url(), at("2026-05-01T00:00:00Z")).unwrap_err();
        assert!(matches!(e, ReleaseError::Replayed { .. }), "{e:?}");
        let e = e.to_string();
        assert!(
            e.starts_with("https://releases.example.com/demoapp/stable.json: index published at 2026-05-01T00:00:00Z, older than the index published at 2026-06-01T00:00:00Z already accepted"),
            "{e}"
        );
        assert!(e.contains("replayed or stale mirror"), "{e}");
        assert!(e.contains(&h.dir_for(&url()).display().to_string()), "{e}");
        // The refusal recorded nothing; older entries were pruned: one file left.
        let files: Vec<_> = std::fs::read_dir(h.dir_for(&url()))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, ["1780272000.json"]);
        let text = std::fs::read_to_string(h.dir_for(&url()).join(&files[0])).unwrap();
        assert!(text.contains("\"url\": \"https://releases.example.com/demoapp/stable.json\""));
    }

    #[test]
    fn an_index_without_time_passes_only_while_nothing_was_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let h = IndexHistory::new(dir.path());
        h.accept(&url(), None).unwrap();
        assert_eq!(h.newest(&url()).unwrap(), None, "nothing to record");
        h.accept(&url(), at("2026-05-01T00:00:00Z")).unwrap();
        let e = h.accept(&url(), None).unwrap_err().to_string();
        assert!(e.contains("no publication time"), "{e}");
    }

    #[test]
    fn urls_are_remembered_apart_and_forgetting_is_removing_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let h = IndexHistory::new(dir.path());
        let dev = Url::parse("https://releases.example.com/demoapp/dev.json").unwrap();
        h.accept(&url(), at("2026-06-01T00:00:00Z")).unwrap();
        h.accept(&dev, at("2026-01-01T00:00:00Z")).unwrap();
        assert_ne!(h.dir_for(&url()), h.dir_for(&dev));
        std::fs::remove_dir_all(h.dir_for(&url())).unwrap();
        h.accept(&url(), at("2026-01-01T00:00:00Z")).unwrap();
    }

    #[test]
    fn concurrent_records_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let h = IndexHistory::new(dir.path());
        std::thread::scope(|s| {
            for i in 0..8i64 {
                let h = &h;
                s.spawn(move || {
                    // Some of these may be refused (a newer one got in first): fine.
                    let _ = h.accept(&url(), Timestamp::from_second(1_780_000_000 + i).ok());
                });
            }
        });
        assert_eq!(
            h.newest(&url()).unwrap(),
            Timestamp::from_second(1_780_000_007).ok()
        );
    }

    #[test]
    fn stray_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let h = IndexHistory::new(dir.path());
        let d = h.dir_for(&url());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(".99.1.1.tmp"), "x").unwrap();
        std::fs::write(d.join("notes.txt"), "x").unwrap();
        assert_eq!(h.newest(&url()).unwrap(), None);
    }
}
