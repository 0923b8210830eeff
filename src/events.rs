//! What happens during a `check`, `upgrade` or `rollback`, as events. The orchestration
//! (`commands::fleet`) only emits them; [`crate::progress`] draws them (bars on a terminal,
//! plain lines elsewhere) and [`crate::report`] writes them (the final table, JSON, JSON lines
//! streamed as they happen, JUnit). Nothing else prints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::Serialize;

/// Which of the three fleet commands runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    Check,
    Upgrade,
    Rollback,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Check => "check",
            Job::Upgrade => "upgrade",
            Job::Rollback => "rollback",
        }
    }
}

/// The release a channel resolved to (verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseInfo {
    pub product: String,
    pub version: String,
    pub channel: String,
    /// The minisign key id (hex) that signed the channel index; for a Cells update server, the
    /// RSA key(s) each binary's signature is checked against.
    pub key_id: String,
    /// When the signed index stops being accepted (RFC 3339); empty for a Cells update server
    /// (its answers are not signed or dated: each binary is).
    pub expires: String,
}

impl std::fmt::Display for ReleaseInfo {
    /// `demoapp 1.1.0 (stable, signed by FCA9…, index expires 2036-…)`, or for a Cells server
    /// `PydioHome 4.4.5 (stable, binaries checked against RSA-2048 cells.pem)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.expires.is_empty() {
            write!(
                f,
                "{} {} ({}, binaries checked against {})",
                self.product, self.version, self.channel, self.key_id
            )
        } else {
            write!(
                f,
                "{} {} ({}, signed by {}, index expires {})",
                self.product, self.version, self.channel, self.key_id, self.expires
            )
        }
    }
}

/// How long one step of a host took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepTiming {
    pub step: String,
    pub seconds: f64,
}

/// A failure, in parts, for machine outputs (the text report shows [`HostReport::detail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostError {
    /// The step that failed: `settings`, `connect`, `probe`, `decide`, `download`, `lock`,
    /// `stage`, `swap`, `restart`, `health`, `rollback`.
    pub step: String,
    /// What went wrong, in words.
    pub message: String,
    /// The remote command, quoted as a shell would read it, when one ran.
    pub command: Option<String>,
    /// Its exit status (`None`: killed, timed out, or never ran).
    pub status: Option<u32>,
    /// Its full stderr.
    pub stderr: String,
}

/// How one host ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReport {
    pub host: String,
    /// `upgrade`/`rollback`: `upgraded`, `unchanged`, `rolled_back`, `failed`, `unreachable`,
    /// `skipped`. `check`: the planned action (`upgrade`, `none`, `refuse`, `blocked`) or
    /// `unreachable`, `failed`.
    pub result: &'static str,
    /// The version the host ran before (`None`: unknown).
    pub from: Option<String>,
    /// The version it was to run (`None`: not decided).
    pub to: Option<String>,
    /// The full human explanation: for a failure the step, the command and the whole stderr;
    /// for `check` the reason of the action.
    pub detail: Option<String>,
    /// The failure in parts (also set for `rolled_back`: the cause).
    pub failure: Option<HostError>,
    /// Wall time from the host's first step to its end.
    pub seconds: f64,
    /// Each step done, in order.
    pub steps: Vec<StepTiming>,
    /// Bytes of the artifact sent to the host.
    pub bytes_sent: u64,
    /// The channel the host follows (`None` for rollback).
    pub channel: Option<String>,
    /// The batch (1-based) the host was in; `None` for `check`.
    pub batch: Option<usize>,
}

impl HostReport {
    pub fn new(host: &str, result: &'static str) -> Self {
        Self {
            host: host.to_owned(),
            result,
            from: None,
            to: None,
            detail: None,
            failure: None,
            seconds: 0.0,
            steps: Vec::new(),
            bytes_sent: 0,
            channel: None,
            batch: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_failure(mut self, failure: HostError) -> Self {
        if self.detail.is_none() {
            self.detail = Some(failure.message.clone());
        }
        self.failure = Some(failure);
        self
    }

    /// Whether this result is a success for `job`.
    pub fn ok(&self, job: Job) -> bool {
        match job {
            Job::Check => matches!(self.result, "upgrade" | "none"),
            Job::Upgrade => matches!(self.result, "upgraded" | "unchanged"),
            Job::Rollback => self.result == "rolled_back",
        }
    }

    /// Whether it counts against the failure budget (`skipped` hosts never ran, so do not).
    pub fn counts_as_failure(&self, job: Job) -> bool {
        !self.ok(job) && self.result != "skipped"
    }
}

/// How the whole run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub job: Job,
    /// Hosts selected for the run.
    pub hosts: usize,
    /// Hosts per result.
    pub counts: BTreeMap<String, usize>,
    /// The process exit code (0, 1 or 2).
    pub exit_code: u8,
    /// Why the run stopped before its last batch, if it did.
    pub stopped: Option<String>,
    /// Where the hosts to retry were written (`None`: nothing to retry).
    pub retry_file: Option<String>,
    /// The releases the hosts were upgraded to (one per channel).
    pub releases: Vec<ReleaseInfo>,
    pub seconds: f64,
}

/// One thing that happened, in the order it happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run begins: what, how many hosts, in which batches (sizes).
    Started {
        job: Job,
        hosts: usize,
        batches: Vec<usize>,
    },
    /// A channel's index was fetched and verified, and resolved to this release.
    Release(ReleaseInfo),
    /// A batch begins (`index` is 1-based).
    BatchStarted {
        index: usize,
        of: usize,
        hosts: Vec<String>,
    },
    /// A host begins a step.
    StepStarted { host: String, step: String },
    /// A host finished a step.
    StepDone {
        host: String,
        step: String,
        detail: String,
        seconds: f64,
    },
    /// A host failed before its batch (settings, connect, probe, decide): it is reported
    /// (`HostDone`) when its batch comes, and counts as failed there.
    StepFailed {
        host: String,
        step: String,
        message: String,
    },
    /// A host starts receiving the artifact: `sent` counts the bytes as they go (read it at
    /// your own rate; no event is sent per chunk).
    Upload {
        host: String,
        total: u64,
        sent: Arc<AtomicU64>,
    },
    /// A host is done (whatever the result).
    HostDone(HostReport),
    /// A batch ended; `failed` counts failures in the whole run so far.
    BatchDone {
        index: usize,
        of: usize,
        failed: usize,
    },
    /// The failure budget was exceeded (or a failure happened without one): the hosts of the
    /// later batches are skipped.
    Stopped { reason: String, skipped: usize },
    /// The end, always sent (also when the run fails).
    Finished(Summary),
}

/// Receives every event; implementations must be cheap (they run on the work's tasks).
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// Sends each event to several observers, in order.
#[derive(Default)]
pub struct Fanout(pub Vec<Box<dyn Observer>>);

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fanout({} observers)", self.0.len())
    }
}

impl Observer for Fanout {
    fn event(&self, event: &Event) {
        for o in &self.0 {
            o.event(event);
        }
    }
}

impl<T: Observer + ?Sized> Observer for Arc<T> {
    fn event(&self, event: &Event) {
        (**self).event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::ReleaseInfo;

    #[test]
    fn a_release_names_its_signer_and_a_cells_release_its_keys() {
        let mut r = ReleaseInfo {
            product: "demoapp".into(),
            version: "1.1.0".into(),
            channel: "stable".into(),
            key_id: "FCA91662B2E1BF44".into(),
            expires: "2036-11-26T00:00:00Z".into(),
        };
        assert_eq!(
            r.to_string(),
            "demoapp 1.1.0 (stable, signed by FCA91662B2E1BF44, index expires 2036-11-26T00:00:00Z)"
        );
        r.expires.clear();
        r.key_id = "RSA-2048 cells.pem".into();
        assert_eq!(
            r.to_string(),
            "demoapp 1.1.0 (stable, binaries checked against RSA-2048 cells.pem)"
        );
    }
}
