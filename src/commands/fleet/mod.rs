//! `fleetup check`, `upgrade` and `rollback`: the same plan for each, so that `check` shows
//! exactly what `upgrade` then does.
//!
//! 1. Every selected host's variables are read and checked; a bad one fails that host only.
//! 2. Each release channel the hosts follow is fetched and verified once; a channel that does
//!    not verify, or a release that is not there, stops the run before any host is contacted.
//! 3. Hosts are connected to and probed, `--forks` at a time, one connection per host.
//! 4. Each host's plan is decided from its probe (`check` stops here and prints them).
//! 5. Each artifact the plans need is downloaded once, verified, and held once in memory.
//! 6. The plans are carried out, `--forks` hosts at a time; a failed host never stops another.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cli::{OutputFormat, Settings, UpgradeArgs};
use crate::inventory::Vars;
use crate::plan::{Action, Plan, decide};
use crate::progress::{DownloadProgress, Mode};
use crate::release::cache::Cache;
use crate::release::fetch::{FetchOptions, download};
use crate::release::settings::{Overrides, ReleaseSettings};
use crate::release::source::{Source, VerifiedIndex, fetch_verified_index};
use crate::release::{Release, ReleaseError, TrustedKeys};
use crate::run::{Outcome, RunError, load_selection, runtime};
use crate::steps::{self, HostSettings, Probe};
use crate::transport::connect::{SshDefaults, ssh_target};
use crate::transport::local::LocalTransport;
use crate::transport::ssh::SshTransport;
use crate::transport::{CommandOutput, RemoteCommand, Transport, TransportError};

mod report;
use report::{HostReport, line_for, render};

/// Which of the three commands runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Check,
    Upgrade,
    Rollback,
}

/// A host's connection, whichever transport it uses.
#[derive(Debug)]
enum Conn {
    Ssh(SshTransport),
    Local(LocalTransport),
}

impl Transport for Conn {
    fn host(&self) -> &str {
        match self {
            Conn::Ssh(t) => t.host(),
            Conn::Local(t) => t.host(),
        }
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        match self {
            Conn::Ssh(t) => t.exec(cmd, stdin).await,
            Conn::Local(t) => t.exec(cmd, stdin).await,
        }
    }
}

/// A host after connecting and probing: its connection and probe (no probe for rollback), or
/// why it got no further.
type Probed = (HostInput, Result<(Conn, Option<Probe>), HostReport>);

/// What is known of a host once its variables are read.
struct HostInput {
    name: String,
    vars: Vars,
    settings: HostSettings,
    release: Option<ReleaseSettings>,
}

pub fn run(s: &Settings, job: Job, args: Option<&UpgradeArgs>) -> Result<Outcome, RunError> {
    if s.output == OutputFormat::Junit {
        return Err(RunError::Config(
            "--output junit is not available yet: use text, json or jsonl".into(),
        ));
    }
    let (inv, selected) = load_selection(s)?;
    let mode = Mode::choose(s.progress, s.verbosity);
    let cwd = std::env::current_dir().map_err(RunError::Output)?;
    let mut reports: Vec<HostReport> = Vec::new();
    let mut inputs: Vec<HostInput> = Vec::new();
    for name in &selected {
        let started = Instant::now();
        let vars = local_paths_absolute(inv.host_vars(name), &cwd);
        let settings = match HostSettings::from_vars(&vars) {
            Ok(v) => v,
            Err(e) => {
                reports.push(
                    HostReport::new(name, "failed", started).with_detail(format!("settings: {e}")),
                );
                continue;
            }
        };
        let release = if job == Job::Rollback {
            None
        } else {
            match ReleaseSettings::from_vars(&vars, &Overrides::default()) {
                Ok(r) => Some(r),
                Err(e) => {
                    reports.push(
                        HostReport::new(name, "failed", started)
                            .with_detail(format!("settings: {e}")),
                    );
                    continue;
                }
            }
        };
        inputs.push(HostInput {
            name: name.clone(),
            vars,
            settings,
            release,
        });
    }

    let rt = runtime()?;
    let fetch = FetchOptions::default();
    // One verified index per channel, before any host is contacted.
    let mut channels: BTreeMap<ReleaseSettings, (VerifiedIndex, Release)> = BTreeMap::new();
    for input in &inputs {
        let Some(r) = &input.release else { continue };
        if channels.contains_key(r) {
            continue;
        }
        let keys = TrustedKeys::from_entries(&r.public_keys)?;
        let source = Source::parse(&r.source)?;
        let verified = rt.block_on(fetch_verified_index(
            &source,
            &r.channel,
            &keys,
            jiff::Timestamp::now(),
            &fetch,
        ))?;
        let version = args.and_then(|a| a.version.as_deref());
        let release = verified
            .index
            .select(version, args.is_some_and(|a| a.pre))?
            .clone();
        channels.insert(r.clone(), (verified, release));
    }
    let allow_downgrade = args.is_some_and(|a| a.allow_downgrade);
    let ssh_defaults = Arc::new(SshDefaults::from_environment().map_err(RunError::Config)?);
    let forks = Arc::new(Semaphore::new(s.forks));
    let run_id = format!(
        "{}-{}-{}",
        hostname(),
        std::process::id(),
        jiff::Timestamp::now().as_second()
    );

    // Connect and probe (and, for rollback, do it), forks at a time.
    let probed: Vec<Probed> = rt.block_on(
        stream::iter(inputs.into_iter().map(|input| {
            let forks = Arc::clone(&forks);
            let d = Arc::clone(&ssh_defaults);
            async move {
                let _permit = forks.acquire().await;
                let started = Instant::now();
                let r = connect_and_probe(&input, &d, started, job).await;
                emit(
                    mode,
                    &input.name,
                    &match &r {
                        Ok((_, Some(p))) => format!(
                            "probe ok: {} {}/{} {}",
                            p.version
                                .as_ref()
                                .map_or("version unknown".to_owned(), ToString::to_string),
                            p.os,
                            p.arch,
                            p.real_path
                        ),
                        Ok((_, None)) => "connected".to_owned(),
                        Err(rep) => {
                            format!("{}: {}", rep.result, rep.detail.as_deref().unwrap_or(""))
                        }
                    },
                );
                (input, r)
            }
        }))
        .buffered(s.forks.max(1))
        .collect(),
    );

    let mut work: Vec<(HostInput, Conn, Plan)> = Vec::new();
    let mut rollbacks: Vec<(HostInput, Conn)> = Vec::new();
    for (input, r) in probed {
        let started = Instant::now();
        let (conn, probe) = match r {
            Ok(x) => x,
            Err(rep) => {
                reports.push(rep);
                continue;
            }
        };
        let Some(probe) = probe else {
            rollbacks.push((input, conn));
            continue;
        };
        let Some((_, release)) = input.release.as_ref().and_then(|r| channels.get(r)) else {
            continue;
        };
        let artifact = match release.artifact(&probe.os, &probe.arch) {
            Ok(a) => a.clone(),
            Err(e) => {
                let mut rep = HostReport::new(
                    &input.name,
                    if job == Job::Check {
                        "blocked"
                    } else {
                        "failed"
                    },
                    started,
                )
                .with_detail(e.to_string());
                rep.from = probe.version.as_ref().map(ToString::to_string);
                reports.push(rep);
                continue;
            }
        };
        let plan = decide(
            &probe,
            &input.settings,
            &release.version,
            &artifact,
            allow_downgrade,
        );
        if job == Job::Check {
            let mut rep = HostReport::new(&input.name, plan.action_name(), started);
            rep.from = Some(plan.current());
            rep.to = Some(plan.target.clone());
            rep.detail = Some(plan.reason());
            reports.push(rep);
        } else {
            work.push((input, conn, plan));
        }
    }

    match job {
        Job::Check => {}
        Job::Upgrade => {
            let artifacts = rt.block_on(fetch_artifacts(&work, &channels, &fetch, mode))?;
            let done: Vec<HostReport> = rt.block_on(
                stream::iter(work.into_iter().map(|(input, conn, plan)| {
                    let forks = Arc::clone(&forks);
                    let bytes = artifacts
                        .get(&plan.artifact.sha256)
                        .cloned()
                        .unwrap_or_default();
                    let run_id = run_id.clone();
                    async move {
                        let _permit = forks.acquire().await;
                        let started = Instant::now();
                        let rep =
                            upgrade_host(&input, &conn, &plan, bytes, &run_id, started, mode).await;
                        emit(mode, &input.name, &line_for(&rep));
                        rep
                    }
                }))
                .buffered(s.forks.max(1))
                .collect(),
            );
            reports.extend(done);
        }
        Job::Rollback => {
            let done: Vec<HostReport> = rt.block_on(
                stream::iter(rollbacks.into_iter().map(|(input, conn)| {
                    let forks = Arc::clone(&forks);
                    let run_id = run_id.clone();
                    async move {
                        let _permit = forks.acquire().await;
                        let started = Instant::now();
                        let rep = match steps::rollback(&conn, &input.settings, &run_id).await {
                            Ok(r) => {
                                let mut rep = HostReport::new(&input.name, "rolled_back", started);
                                rep.to = Some(r.version);
                                rep.with_detail(format!("restored {}", r.backup))
                            }
                            Err(e) => HostReport::new(&input.name, "failed", started)
                                .with_detail(e.to_string()),
                        };
                        emit(mode, &input.name, &line_for(&rep));
                        rep
                    }
                }))
                .buffered(s.forks.max(1))
                .collect(),
            );
            reports.extend(done);
        }
    }

    // Report in inventory order.
    let order: HashMap<&str, usize> = selected
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    reports.sort_by_key(|r| order.get(r.host.as_str()).copied().unwrap_or(usize::MAX));
    render(s.output, job, &reports, &channels)?;
    Ok(if reports.iter().all(|r| r.ok(job)) {
        Outcome::Success
    } else {
        Outcome::HostsFailed
    })
}

/// With `ansible_connection: local`, a relative `fleetup_binary` is taken from the current
/// directory (the quick start's hosts live under `target/`); over SSH a path must be absolute.
fn local_paths_absolute(mut vars: Vars, cwd: &Path) -> Vars {
    let local = vars.get("ansible_connection").and_then(Value::as_str) == Some("local");
    if let (true, Some(Value::String(p))) = (local, vars.get("fleetup_binary"))
        && !p.starts_with('/')
    {
        let abs = cwd.join(p).display().to_string();
        vars.insert("fleetup_binary".into(), Value::String(abs));
    }
    vars
}

async fn connect_and_probe(
    input: &HostInput,
    d: &SshDefaults,
    started: Instant,
    job: Job,
) -> Result<(Conn, Option<Probe>), HostReport> {
    let name = &input.name;
    let unreachable = |e: String| HostReport::new(name, "unreachable", started).with_detail(e);
    let failed = |e: String| HostReport::new(name, "failed", started).with_detail(e);
    let connection = input
        .vars
        .get("ansible_connection")
        .and_then(Value::as_str)
        .unwrap_or("ssh");
    let conn = match connection {
        "local" => Conn::Local(LocalTransport::new(name.clone())),
        "ssh" | "smart" | "paramiko" => {
            let target =
                ssh_target(name, &input.vars, d).map_err(|e| failed(format!("connect: {e}")))?;
            Conn::Ssh(
                SshTransport::connect(target)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?,
            )
        }
        other => {
            return Err(failed(format!(
                "connect: ansible_connection {other:?} is not supported (ssh or local)"
            )));
        }
    };
    if job == Job::Rollback {
        // Rollback reads what it needs itself; a probe here would fail on a host whose binary
        // is the very thing to repair.
        return Ok((conn, None));
    }
    let probe = steps::probe(&conn, &input.settings)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((conn, Some(probe)))
}

/// Each step of a host as one plain line, host first.
struct Lines(Mode);

impl steps::StepEvents for Lines {
    fn step_done(&self, host: &str, step: steps::Step, detail: &str) {
        emit(self.0, host, &format!("{step} ok: {detail}"));
    }
}

async fn upgrade_host(
    input: &HostInput,
    conn: &Conn,
    plan: &Plan,
    bytes: Bytes,
    run_id: &str,
    started: Instant,
    mode: Mode,
) -> HostReport {
    let from = plan.probe.version.as_ref().map(ToString::to_string);
    let events = Lines(mode);
    let done = steps::upgrade_observed(conn, &input.settings, plan, bytes, run_id, &events).await;
    let mut rep = match (&plan.action, done) {
        (_, Ok(steps::Outcome::Upgraded { .. })) => {
            HostReport::new(&input.name, "upgraded", started)
        }
        (_, Ok(steps::Outcome::Unchanged)) => HostReport::new(&input.name, "unchanged", started),
        (
            _,
            Ok(steps::Outcome::RolledBack {
                cause,
                restored,
                after,
            }),
        ) => {
            let mut detail = format!(
                "{cause}\nrolled back to {} ({})",
                restored.version, restored.backup
            );
            if let Some(after) = after {
                detail.push_str(&format!("\nafter the rollback: {after}"));
            }
            HostReport::new(&input.name, "rolled_back", started).with_detail(detail)
        }
        (Action::Refuse { reason } | Action::Blocked { reason }, Err(_)) => {
            HostReport::new(&input.name, "failed", started).with_detail(reason.clone())
        }
        (_, Err(e)) => HostReport::new(&input.name, "failed", started).with_detail(e.to_string()),
    };
    rep.from = from;
    rep.to = Some(plan.target.clone());
    rep
}

/// Downloads each artifact the plans need once, verified, and holds it once in memory.
async fn fetch_artifacts(
    work: &[(HostInput, Conn, Plan)],
    channels: &BTreeMap<ReleaseSettings, (VerifiedIndex, Release)>,
    fetch: &FetchOptions,
    mode: Mode,
) -> Result<HashMap<String, Bytes>, RunError> {
    let cache = Cache::from_env()?;
    let mut out: HashMap<String, Bytes> = HashMap::new();
    for (input, _, plan) in work {
        if !matches!(plan.action, Action::Upgrade) || out.contains_key(&plan.artifact.sha256) {
            continue;
        }
        let Some((verified, release)) = input.release.as_ref().and_then(|r| channels.get(r)) else {
            continue;
        };
        let url = verified.artifact_url(&plan.artifact)?;
        let what = format!(
            "{} {} {}/{}",
            verified.index.product, release.version, plan.artifact.os, plan.artifact.arch
        );
        let path = download(
            &url,
            &plan.artifact,
            &cache,
            fetch,
            &DownloadProgress::new(mode, what),
        )
        .await?;
        let bytes = tokio::fs::read(&path).await.map_err(|e| ReleaseError::Io {
            what: path.display().to_string(),
            source: e,
        })?;
        out.insert(plan.artifact.sha256.clone(), Bytes::from(bytes));
    }
    Ok(out)
}

/// One plain line per host event on stderr, host first (no escape codes).
fn emit(mode: Mode, host: &str, text: &str) {
    if mode != Mode::Silent {
        let _ = writeln!(std::io::stderr().lock(), "{host} {text}");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "controller".to_owned())
}
