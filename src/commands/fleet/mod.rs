//! `fleetup check`, `upgrade` and `rollback`: the same plan for each, so that `check` shows
//! exactly what `upgrade` then does.
//!
//! 1. Every selected host's variables are read and checked; a bad one fails that host only.
//! 2. Each release channel the hosts follow is fetched and verified once; a channel that does
//!    not verify, or a release that is not there, stops the run before any host is contacted
//!    ([`channels`]; a Cells update server's source and keys are checked here).
//! 3. Hosts are connected to and probed (read-only), `--forks` at a time, one connection per
//!    host, kept for the run.
//! 4. Each Cells update server is asked what it offers the probed hosts, once per distinct
//!    version and platform. Each host's plan is decided from its probe (`check` stops here and
//!    reports them).
//! 5. Each artifact the plans need is downloaded once, verified (a Cells binary's signature
//!    too), and held once in memory. Nothing has been changed on any host so far.
//! 6. On a terminal, when the whole inventory is selected, the operator confirms.
//! 7. The plans are carried out batch by batch (`--serial`), `--forks` hosts at a time; a
//!    failed host never stops its peers, but after each batch the failure budget may stop the
//!    run (the hosts of later batches are then `skipped`). A host that failed in steps 1–4
//!    counts as failed in its own batch.
//!
//! Nothing here prints: every step is an [`Event`] for [`crate::progress`] and
//! [`crate::report`]. SIGINT/SIGTERM and panics: [`interrupt`].

mod channels;
mod interrupt;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cli::{BatchArgs, ColorChoice, HostOrderArg, OutputFormat, Settings, UpgradeArgs};
use crate::compress::Compression;
use crate::events::{
    Event, Fanout, HostError, HostReport, Job, Observer, ReleaseInfo, StepTiming, Summary,
};
use crate::inventory::{self, Inventory, Vars};
use crate::orchestrate::{Budget, HostOrder, SerialSpec, default_retry_path, write_retry_file};
use crate::plan::{Action, Plan, decide};
use crate::progress::{Display, Mode};
use crate::release::cache::Cache;
use crate::release::fetch::{FetchOptions, download};
use crate::release::settings::{Overrides, ReleaseSettings, fetch_options};
use crate::release::{Artifact, ReleaseError};
use crate::report::{JsonlStream, RenderOptions, write_final};
use crate::run::{Outcome, RunError, load_selection, runtime};
use crate::steps::{self, HostSettings, Probe, Step, StepError};
use crate::transport::connect::{SshDefaults, ssh_target};
use crate::transport::local::LocalTransport;
use crate::transport::ssh::SshTransport;
use crate::transport::{CommandOutput, RemoteCommand, Transport, TransportError};
use channels::{Channel, Channels, ask_cells, cells_question, verify_channels};
use interrupt::{Guarded, INTERRUPT};

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

    async fn exec_counted(
        &self,
        cmd: &RemoteCommand,
        stdin: Bytes,
        sent: Arc<AtomicU64>,
    ) -> Result<CommandOutput, TransportError> {
        // Closed never: the permit cannot fail.
        let _upload = UPLOADS.acquire().await;
        match self {
            Conn::Ssh(t) => t.exec_counted(cmd, stdin, sent).await,
            Conn::Local(t) => t.exec_counted(cmd, stdin, sent).await,
        }
    }
}

/// Uploads in flight at once, across all hosts. Each holds up to the peer's channel window
/// (2 MiB with OpenSSH) in buffers: without a cap the controller's memory would grow with the
/// number of hosts, and beyond a few dozen streams more of them do not go faster (the CPU,
/// or the link, is full). A host waiting for its turn shows `stage` with nothing sent yet.
pub const MAX_CONCURRENT_UPLOADS: usize = 32;

static UPLOADS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_UPLOADS);

/// SSH handshakes in progress at once, across all hosts. A handshake costs both ends a burst of
/// CPU (key exchange, host key, authentication, and on the host a privilege-separated sshd
/// process): with `--forks 1000` they would all start in the same instant and the last ones
/// run into their connect timeout before they get any CPU. The connect timeout starts once a
/// host's turn has come. 64 at once still opens hundreds of connections a second.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 64;

static HANDSHAKES: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HANDSHAKES);

/// What is known of a host once its variables are read.
struct HostInput {
    name: String,
    vars: Vars,
    settings: HostSettings,
    release: Option<ReleaseSettings>,
    /// When its first step began.
    started: Instant,
}

/// A host ready for its batch: connected, probed and planned — or already failed.
enum Prepared {
    Failed(HostReport),
    Upgrade {
        input: HostInput,
        conn: Conn,
        plan: Box<Plan>,
        timings: Vec<StepTiming>,
    },
    Rollback {
        input: HostInput,
        conn: Conn,
        timings: Vec<StepTiming>,
    },
}

impl Prepared {
    fn host(&self) -> &str {
        match self {
            Prepared::Failed(r) => &r.host,
            Prepared::Upgrade { input, .. } | Prepared::Rollback { input, .. } => &input.name,
        }
    }
}

/// A host connected and probed, before its plan is decided (the Cells update server is asked
/// between the two), or one already done with.
enum Probed {
    Done(Prepared),
    Ready {
        input: HostInput,
        conn: Conn,
        probe: Box<Probe>,
        timings: Vec<StepTiming>,
    },
}

pub fn run(
    s: &Settings,
    job: Job,
    args: Option<&UpgradeArgs>,
    batch: &BatchArgs,
) -> Result<Outcome, RunError> {
    let began = Instant::now();
    let (inv, mut selected) = load_selection(s)?;
    let serial = serial_spec(&inv, batch, s.config.serial.value.as_ref())?;
    let budget = Budget::new(batch.max_fail_percentage, batch.keep_going)
        .map_err(|e| RunError::Config(e.to_string()))?;
    order(batch.order).apply(&mut selected, seed());
    let sizes = if job == Job::Check {
        vec![selected.len()]
    } else {
        serial.batches(selected.len())
    };

    // Machine output on the terminal's stdout would be torn by bars redrawn on its stderr.
    let machine_on_tty = s.output != OutputFormat::Text && std::io::stdout().is_terminal();
    let mode = Mode::choose(s.progress && !machine_on_tty, s.verbosity);
    let display = Arc::new(Display::new(mode));
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(Arc::clone(&display))];
    if s.output == OutputFormat::Jsonl {
        observers.push(Box::new(JsonlStream::new(job, Box::new(std::io::stdout()))));
    }
    let obs = Fanout(observers);
    obs.event(&Event::Started {
        job,
        hosts: selected.len(),
        batches: if job == Job::Check {
            Vec::new()
        } else {
            sizes.clone()
        },
    });

    let cwd = std::env::current_dir().map_err(RunError::Output)?;
    let mut early: HashMap<String, HostReport> = HashMap::new();
    let mut inputs: Vec<HostInput> = Vec::new();
    for name in &selected {
        match host_input(name, &inv, &cwd, job) {
            Ok(i) => inputs.push(i),
            Err(rep) => {
                failed_early(&rep, &obs);
                early.insert(name.clone(), *rep);
            }
        }
    }

    let rt = runtime()?;
    interrupt::listen(&rt, Arc::clone(&display));
    let fetch = fetch_options(&inv).map_err(RunError::Config)?;
    let mut channels = match rt.block_on(INTERRUPT.unless(verify_channels(&inputs, args, &fetch))) {
        Ok(channels) => channels?,
        Err(_) => Channels::new(),
    };
    let mut releases: Vec<ReleaseInfo> = channels.values().filter_map(Channel::info).collect();
    for r in &releases {
        obs.event(&Event::Release(r.clone()));
    }
    let allow_downgrade = args.is_some_and(|a| a.allow_downgrade);
    let ssh_defaults = Arc::new(SshDefaults::from_environment().map_err(RunError::Config)?);
    let forks = s.forks.max(1);

    // Connect and probe, forks at a time (read-only).
    let probed: Vec<Probed> = rt.block_on(
        stream::iter(inputs.into_iter().map(|input| {
            let d = Arc::clone(&ssh_defaults);
            let obs = &obs;
            let channels = &channels;
            async move {
                let name = input.name.clone();
                let work = prepare(input, &d, job, channels, obs);
                match INTERRUPT
                    .unless(AssertUnwindSafe(work).catch_unwind())
                    .await
                {
                    Ok(Ok(p)) => p,
                    Ok(Err(panic)) => Probed::Done(Prepared::Failed(interrupt::panic_report(
                        &name, job, &*panic,
                    ))),
                    Err(sig) => Probed::Done(interrupt::not_probed(&name, sig)),
                }
            }
        }))
        .buffer_unordered(forks)
        .collect(),
    );
    // Ask each Cells update server what it offers the probed hosts, then decide every plan.
    if channels.values().any(Channel::is_cells) && !INTERRUPT.requested() {
        let questions: Vec<_> = probed
            .iter()
            .filter_map(|p| match p {
                Probed::Ready { input, probe, .. } => {
                    Some((input.release.clone()?, cells_question(probe)))
                }
                Probed::Done(_) => None,
            })
            .collect();
        let work = ask_cells(&mut channels, &questions, args, &fetch);
        if let Ok(asked) = rt.block_on(INTERRUPT.unless(work)) {
            asked?;
        }
        for r in channels
            .values()
            .filter(|c| c.is_cells())
            .filter_map(Channel::info)
        {
            obs.event(&Event::Release(r.clone()));
            releases.push(r);
        }
    }
    let mut prepared: HashMap<String, Prepared> = probed
        .into_iter()
        .map(|p| plan_host(p, &channels, job, allow_downgrade, &obs))
        .map(|p| (p.host().to_owned(), p))
        .collect();
    for (name, rep) in early {
        prepared.insert(name, Prepared::Failed(rep));
    }

    if job == Job::Check {
        let stopped = INTERRUPT.signal().map(|sig| {
            let reason = interrupt::stop_reason(sig);
            let skipped = prepared
                .values()
                .filter(|p| matches!(p, Prepared::Failed(r) if r.result == "skipped"))
                .count();
            obs.event(&Event::Stopped {
                reason: reason.clone(),
                skipped,
            });
            reason
        });
        let reports: Vec<HostReport> = selected
            .iter()
            .filter_map(|h| prepared.remove(h))
            .map(|p| check_report(p, &obs))
            .collect();
        return finish(s, job, &inv, &obs, &reports, releases, stopped, None, began);
    }

    let artifacts = if job == Job::Upgrade && !INTERRUPT.requested() {
        let work = fetch_artifacts(prepared.values(), &channels, &fetch, &display);
        match rt.block_on(INTERRUPT.unless(work)) {
            Ok(artifacts) => artifacts?,
            Err(_) => HashMap::new(),
        }
    } else {
        HashMap::new()
    };

    if !INTERRUPT.requested() && !batch.yes && s.limit.is_none() && interactive() {
        let question = confirmation(job, &prepared, &releases);
        let answer =
            display.suspend(|| interrupt::ask_unless_interrupted(&rt, move || ask(&question)));
        if answer == Some(false) {
            return Err(RunError::Config(
                "not confirmed: nothing was changed".into(),
            ));
        }
    }

    let run_id = format!(
        "{}-{}-{}",
        hostname(),
        std::process::id(),
        jiff::Timestamp::now().as_second()
    );
    let total = selected.len();
    let of = sizes.len();
    let mut reports: Vec<HostReport> = Vec::with_capacity(total);
    let mut stopped: Option<String> = None;
    let mut next = 0usize;
    for (i, size) in sizes.iter().enumerate() {
        if let Some(sig) = INTERRUPT.signal() {
            let rest = &selected[next..];
            stopped = Some(interrupt::skip_rest(
                sig,
                rest,
                &mut prepared,
                &obs,
                &mut reports,
            ));
            break;
        }
        let index = i + 1;
        let names = &selected[next..next + size];
        next += size;
        obs.event(&Event::BatchStarted {
            index,
            of,
            hosts: names.to_vec(),
        });
        let batch_hosts: Vec<Prepared> = names.iter().filter_map(|h| prepared.remove(h)).collect();
        let sem = Arc::new(Semaphore::new(forks));
        let done: Vec<HostReport> = rt.block_on(
            stream::iter(batch_hosts.into_iter().map(|p| {
                let sem = Arc::clone(&sem);
                let obs = &obs;
                let run_id = run_id.as_str();
                let artifacts = &artifacts;
                async move {
                    let _permit = sem.acquire().await;
                    let mut rep = match INTERRUPT.signal() {
                        Some(sig) => interrupt::not_started(p, sig),
                        None => {
                            let host = p.host().to_owned();
                            let work = execute(p, artifacts, run_id, obs);
                            interrupt::contain_panic(&host, job, work).await
                        }
                    };
                    rep.batch = Some(index);
                    obs.event(&Event::HostDone(rep.clone()));
                    rep
                }
            }))
            .buffer_unordered(forks)
            .collect(),
        );
        reports.extend(done);
        let failed = reports.iter().filter(|r| r.counts_as_failure(job)).count();
        obs.event(&Event::BatchDone { index, of, failed });
        if index < of && !INTERRUPT.requested() && budget.should_stop(failed, total) {
            let why = budget_reason(&budget, failed, total, index);
            let rest = &selected[next..];
            obs.event(&Event::Stopped {
                reason: why.clone(),
                skipped: rest.len(),
            });
            for h in rest {
                let mut rep = HostReport::new(h, "skipped").with_detail(format!(
                    "not started: the run stopped after batch {index}/{of}"
                ));
                if let Some(Prepared::Upgrade { plan, .. }) = prepared.get(h) {
                    rep.from = plan.probe.version.as_ref().map(ToString::to_string);
                    rep.to = Some(plan.target.clone());
                }
                obs.event(&Event::HostDone(rep.clone()));
                reports.push(rep);
            }
            stopped = Some(why);
            break;
        }
    }
    if let (None, Some(sig)) = (&stopped, INTERRUPT.signal())
        && !reports.iter().all(|r| r.ok(job))
    {
        // Interrupted during the last batch: no host was left to skip.
        stopped = Some(interrupt::skip_rest(
            sig,
            &[],
            &mut prepared,
            &obs,
            &mut reports,
        ));
    }
    // Connections of skipped hosts close here.
    drop(prepared);

    let retry = retry_path(s, batch);
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.ok(job))
        .map(|r| r.host.clone())
        .collect();
    // Hosts were worked on: a retry file that cannot be written is worth a warning, not a
    // different exit code.
    let retry = match write_retry_file(&retry, &failed) {
        Ok(()) => (!failed.is_empty()).then_some(retry),
        Err(e) => {
            tracing::warn!("cannot write the retry file {}: {e}", retry.display());
            None
        }
    };
    finish(
        s, job, &inv, &obs, &reports, releases, stopped, retry, began,
    )
}

/// Emits the summary, writes the final report, and says how the run ended.
#[allow(clippy::too_many_arguments)]
fn finish(
    s: &Settings,
    job: Job,
    inv: &Inventory,
    obs: &dyn Observer,
    reports: &[HostReport],
    releases: Vec<ReleaseInfo>,
    stopped: Option<String>,
    retry: Option<PathBuf>,
    began: Instant,
) -> Result<Outcome, RunError> {
    let outcome = match INTERRUPT.signal() {
        _ if reports.iter().all(|r| r.ok(job)) => Outcome::Success,
        Some(sig) => Outcome::Interrupted(sig.exit_code()),
        None => Outcome::HostsFailed,
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in reports {
        *counts.entry(r.result.to_owned()).or_default() += 1;
    }
    let summary = Summary {
        job,
        hosts: reports.len(),
        counts,
        exit_code: outcome.exit_code(),
        stopped,
        retry_file: retry.map(|p| p.display().to_string()),
        releases,
        seconds: began.elapsed().as_secs_f64(),
    };
    obs.event(&Event::Finished(summary.clone()));
    let opts = RenderOptions {
        output: s.output,
        color: color(s.color),
    };
    let audit = match s.output {
        OutputFormat::Html => crate::report::Audit::new(inv, reports, hostname()),
        _ => crate::report::Audit::default(),
    };
    write_final(
        &mut std::io::stdout().lock(),
        opts,
        reports,
        &summary,
        &audit,
    )?;
    Ok(outcome)
}

/// `--serial`, else `fleetup_serial` of `-e` or the inventory's `all` vars (the inventory
/// describes its fleet and beats a controller default), else the configuration's `serial`, else
/// one batch.
fn serial_spec(
    inv: &Inventory,
    batch: &BatchArgs,
    configured: Option<&SerialSpec>,
) -> Result<SerialSpec, RunError> {
    let bad = |e: &dyn std::fmt::Display| RunError::Config(format!("--serial: {e}"));
    if let Some(text) = &batch.serial {
        return SerialSpec::parse(text).map_err(|e| bad(&e));
    }
    let all = inv.group_vars(inventory::ALL);
    match inv
        .extra_vars()
        .get("fleetup_serial")
        .or_else(|| all.get("fleetup_serial"))
    {
        Some(v) => {
            SerialSpec::from_json(v).map_err(|e| RunError::Config(format!("fleetup_serial: {e}")))
        }
        None => Ok(configured.cloned().unwrap_or_else(SerialSpec::all)),
    }
}

fn order(o: HostOrderArg) -> HostOrder {
    match o {
        HostOrderArg::Inventory => HostOrder::Inventory,
        HostOrderArg::Sorted => HostOrder::Sorted,
        HostOrderArg::Shuffle => HostOrder::Shuffle,
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Only the low bits vary between runs; that is all a shuffle needs.
    #[allow(clippy::cast_possible_truncation)]
    let low = nanos as u64;
    low ^ u64::from(std::process::id()).rotate_left(32)
}

fn budget_reason(budget: &Budget, failed: usize, total: usize, index: usize) -> String {
    match budget.max_fail_percentage {
        Some(p) => format!(
            "{failed} of {total} hosts failed after batch {index}, more than --max-fail-percentage {p}"
        ),
        None => format!(
            "{failed} of {total} hosts failed after batch {index}; without --max-fail-percentage \
             any failure stops the run (--keep-going to go on)"
        ),
    }
}

fn retry_path(s: &Settings, batch: &BatchArgs) -> PathBuf {
    if let Some(p) = &batch.retry_file {
        return p.clone();
    }
    default_retry_path(
        s.inventory
            .first()
            .filter(|p| p.exists())
            .map(PathBuf::as_path),
    )
}

/// Whether a person can answer a question: stdin and stderr are terminals.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn confirmation(
    job: Job,
    prepared: &HashMap<String, Prepared>,
    releases: &[ReleaseInfo],
) -> String {
    let hosts = prepared.len();
    match job {
        Job::Upgrade => {
            let to_upgrade = prepared
                .values()
                .filter(|p| matches!(p, Prepared::Upgrade { plan, .. } if plan.action == Action::Upgrade))
                .count();
            let failed = prepared
                .values()
                .filter(|p| matches!(p, Prepared::Failed(_)))
                .count();
            let what: Vec<String> = releases
                .iter()
                .map(|r| format!("{} {} (channel {})", r.product, r.version, r.channel))
                .collect();
            format!(
                "Upgrade the whole inventory ({hosts} hosts) to {}? {to_upgrade} to upgrade, \
                 {failed} unreachable or failing. [y/N] ",
                what.join(", ")
            )
        }
        _ => format!("Roll back the whole inventory ({hosts} hosts)? [y/N] "),
    }
}

fn ask(question: &str) -> bool {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

fn host_input(
    name: &str,
    inv: &Inventory,
    cwd: &Path,
    job: Job,
) -> Result<HostInput, Box<HostReport>> {
    let vars = local_paths_absolute(inv.host_vars(name), cwd);
    let bad = |e: &dyn std::fmt::Display| {
        Box::new(plain_failure(
            name,
            "failed",
            "settings",
            format!("settings: {e}"),
        ))
    };
    let settings = HostSettings::from_vars(&vars).map_err(|e| bad(&e))?;
    let release = if job == Job::Rollback {
        None
    } else {
        Some(ReleaseSettings::from_vars(&vars, &Overrides::default()).map_err(|e| bad(&e))?)
    };
    Ok(HostInput {
        name: name.to_owned(),
        vars,
        settings,
        release,
        started: Instant::now(),
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

/// Tells that a host failed before its batch (it is reported with its batch).
fn failed_early(rep: &HostReport, obs: &dyn Observer) {
    let (step, message) = match &rep.failure {
        Some(f) => (f.step.clone(), f.message.clone()),
        None => ("probe".to_owned(), rep.detail.clone().unwrap_or_default()),
    };
    obs.event(&Event::StepFailed {
        host: rep.host.clone(),
        step,
        message,
    });
}

/// A failure outside a step's command (connect, settings, download).
fn plain_failure(name: &str, result: &'static str, step: &str, message: String) -> HostReport {
    HostReport::new(name, result).with_failure(HostError {
        step: step.to_owned(),
        message,
        command: None,
        status: None,
        stderr: String::new(),
    })
}

/// Connects, probes and decides one host (read-only), reporting the probe as a step.
async fn prepare(
    input: HostInput,
    d: &SshDefaults,
    job: Job,
    channels: &Channels,
    obs: &dyn Observer,
) -> Probed {
    let name = input.name.clone();
    let started = input.started;
    let fail = |rep: HostReport| Probed::Done(failed_now(rep, started, obs));
    obs.event(&Event::StepStarted {
        host: name.clone(),
        step: "connect".into(),
    });
    let conn = match connect(&input, d).await {
        Ok(c) => c,
        Err(rep) => return fail(rep),
    };
    let connected = started.elapsed().as_secs_f64();
    let mut timings = vec![StepTiming {
        step: "connect".into(),
        seconds: connected,
    }];
    if job == Job::Rollback {
        // Rollback reads what it needs itself; a probe here would fail on a host whose binary
        // is the very thing to repair.
        obs.event(&Event::StepDone {
            host: name.clone(),
            step: "connect".into(),
            detail: "connected".into(),
            seconds: connected,
        });
        return Probed::Done(Prepared::Rollback {
            input,
            conn,
            timings,
        });
    }
    obs.event(&Event::StepStarted {
        host: name.clone(),
        step: "probe".into(),
    });
    // The binary is hashed only when its size is one of the release's artifacts' (only then
    // can it already be the target), or always when they are not known yet.
    let sizes = input
        .release
        .as_ref()
        .and_then(|r| channels.get(r))
        .and_then(Channel::hash_sizes);
    let probe = match steps::probe_for(&conn, &input.settings, sizes.as_deref()).await {
        Ok(p) => p,
        Err(e) => return fail(step_failure(&name, "failed", &e)),
    };
    let seconds = started.elapsed().as_secs_f64() - connected;
    timings.push(StepTiming {
        step: "probe".into(),
        seconds,
    });
    obs.event(&Event::StepDone {
        host: name.clone(),
        step: "probe".into(),
        detail: probe_line(&probe),
        seconds,
    });
    Probed::Ready {
        input,
        conn,
        probe: Box::new(probe),
        timings,
    }
}

/// A host failed before its batch: how long it took, and the event that says so.
fn failed_now(mut rep: HostReport, started: Instant, obs: &dyn Observer) -> Prepared {
    rep.seconds = started.elapsed().as_secs_f64();
    failed_early(&rep, obs);
    Prepared::Failed(rep)
}

/// Decides a probed host's plan from its channel's release (pure, no round trip).
fn plan_host(
    probed: Probed,
    channels: &Channels,
    job: Job,
    allow_downgrade: bool,
    obs: &dyn Observer,
) -> Prepared {
    let (input, conn, probe, timings) = match probed {
        Probed::Done(p) => return p,
        Probed::Ready {
            input,
            conn,
            probe,
            timings,
        } => (input, conn, probe, timings),
    };
    let name = input.name.clone();
    let fail = |rep: HostReport| failed_now(rep, input.started, obs);
    let Some(channel) = input.release.as_ref().and_then(|r| channels.get(r)) else {
        return fail(plain_failure(
            &name,
            "failed",
            "decide",
            "no release for this host's channel".into(),
        ));
    };
    if !channel.resolved() {
        // Interrupted before the update server was asked.
        if let Some(sig) = INTERRUPT.signal() {
            return interrupt::not_probed(&name, sig);
        }
    }
    let up_to_date = |version: &str| Plan::up_to_date(&probe, &input.settings, version);
    let plan = match channel.release() {
        // A Cells update server offers only what is newer than the host runs.
        None if channel.is_cells() => up_to_date(&probe.version.as_ref().map_or_else(
            || probe.version_output.trim().to_owned(),
            ToString::to_string,
        )),
        None => {
            return fail(plain_failure(
                &name,
                "failed",
                "decide",
                "no release for this host's channel".into(),
            ));
        }
        Some(release) => match release.artifact(&probe.os, &probe.arch) {
            Ok(artifact) => decide(
                &probe,
                &input.settings,
                &release.version,
                artifact,
                allow_downgrade,
            ),
            Err(_) if channel.is_cells() && runs(&probe, &release.version) => {
                up_to_date(&release.version)
            }
            Err(e) => {
                let result = if job == Job::Check {
                    "blocked"
                } else {
                    "failed"
                };
                let mut rep = plain_failure(&name, result, "decide", e.to_string());
                rep.from = probe.version.as_ref().map(ToString::to_string);
                rep.to = Some(release.version.to_string());
                return fail(rep);
            }
        },
    };
    Prepared::Upgrade {
        input,
        conn,
        plan: Box::new(plan),
        timings,
    }
}

/// Whether the host reports `version` (semver precedence).
fn runs(probe: &Probe, version: &str) -> bool {
    let target = semver::Version::parse(version.trim_start_matches('v')).ok();
    probe
        .version
        .as_ref()
        .zip(target)
        .is_some_and(|(v, t)| v.cmp_precedence(&t).is_eq())
}

fn probe_line(p: &Probe) -> String {
    format!(
        "{} {}/{} {}",
        p.version
            .as_ref()
            .map_or("version unknown".to_owned(), ToString::to_string),
        p.os,
        p.arch,
        p.real_path
    )
}

async fn connect(input: &HostInput, d: &SshDefaults) -> Result<Conn, HostReport> {
    let name = &input.name;
    let connection = input
        .vars
        .get("ansible_connection")
        .and_then(Value::as_str)
        .unwrap_or("ssh");
    match connection {
        "local" => Ok(Conn::Local(LocalTransport::new(name.clone()))),
        "ssh" | "smart" | "paramiko" => {
            let target = ssh_target(name, &input.vars, d)
                .map_err(|e| plain_failure(name, "failed", "connect", format!("connect: {e}")))?;
            let _turn = HANDSHAKES.acquire().await;
            Ok(Conn::Ssh(SshTransport::connect(target).await.map_err(
                |e| plain_failure(name, "unreachable", "connect", e.to_string()),
            )?))
        }
        other => Err(plain_failure(
            name,
            "failed",
            "connect",
            format!("connect: ansible_connection {other:?} is not supported (ssh or local)"),
        )),
    }
}

/// A failed step as a report: the full text for people, the parts for machines.
fn step_failure(name: &str, result: &'static str, e: &StepError) -> HostReport {
    let mut rep = HostReport::new(name, result).with_detail(e.to_string());
    rep.failure = Some(host_error(e));
    rep
}

fn host_error(e: &StepError) -> HostError {
    HostError {
        step: e.step.to_string(),
        message: e.message.clone(),
        command: (!e.argv.is_empty()).then(|| {
            let words: Vec<&str> = e.argv.iter().map(String::as_str).collect();
            shlex::try_join(words).unwrap_or_else(|_| format!("{:?}", e.argv))
        }),
        status: e.status,
        stderr: e.stderr.clone(),
    }
}

/// `check`'s report of a prepared host: its plan, sent as the host's end.
fn check_report(p: Prepared, obs: &dyn Observer) -> HostReport {
    let rep = match p {
        Prepared::Failed(rep) => rep,
        Prepared::Upgrade {
            input,
            plan,
            timings,
            ..
        } => {
            let mut rep = HostReport::new(&input.name, plan.action_name());
            rep.from = Some(plan.current());
            rep.to = Some(plan.target.clone());
            rep.detail = Some(plan.reason());
            rep.channel = input.release.as_ref().map(|r| r.channel.clone());
            rep.steps = timings;
            rep.seconds = input.started.elapsed().as_secs_f64();
            rep
        }
        Prepared::Rollback { input, .. } => HostReport::new(&input.name, "failed"),
    };
    obs.event(&Event::HostDone(rep.clone()));
    rep
}

/// Turns each step of one host into events, and keeps its timings and bytes sent.
struct HostSteps<'a> {
    obs: &'a dyn Observer,
    mark: Mutex<Instant>,
    timings: Mutex<Vec<StepTiming>>,
    sent: Mutex<Option<Arc<AtomicU64>>>,
}

impl HostSteps<'_> {
    fn bytes_sent(&self) -> u64 {
        lock(&self.sent)
            .as_ref()
            .map_or(0, |s| s.load(Ordering::Relaxed))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl steps::StepEvents for HostSteps<'_> {
    fn step_started(&self, host: &str, step: Step) {
        *lock(&self.mark) = Instant::now();
        self.obs.event(&Event::StepStarted {
            host: host.to_owned(),
            step: step.to_string(),
        });
    }

    fn step_done(&self, host: &str, step: Step, detail: &str) {
        let seconds = lock(&self.mark).elapsed().as_secs_f64();
        lock(&self.timings).push(StepTiming {
            step: step.to_string(),
            seconds,
        });
        self.obs.event(&Event::StepDone {
            host: host.to_owned(),
            step: step.to_string(),
            detail: detail.to_owned(),
            seconds,
        });
    }

    fn upload(&self, host: &str, total: u64) -> Arc<AtomicU64> {
        let sent = Arc::new(AtomicU64::new(0));
        *lock(&self.sent) = Some(Arc::clone(&sent));
        self.obs.event(&Event::Upload {
            host: host.to_owned(),
            total,
            sent: Arc::clone(&sent),
        });
        sent
    }
}

/// Carries out one prepared host's plan (or rollback).
async fn execute(
    p: Prepared,
    artifacts: &Payloads,
    run_id: &str,
    obs: &dyn Observer,
) -> HostReport {
    let (input, conn, timings) = match p {
        Prepared::Failed(rep) => return rep,
        Prepared::Upgrade {
            input,
            conn,
            timings,
            plan,
        } => {
            let bytes = artifacts
                .get(&(plan.artifact.sha256.clone(), plan.compression))
                .cloned()
                .unwrap_or_default();
            let events = HostSteps {
                obs,
                mark: Mutex::new(Instant::now()),
                timings: Mutex::new(timings),
                sent: Mutex::new(None),
            };
            let conn = Guarded::new(&conn, &INTERRUPT);
            let done =
                steps::upgrade_observed(&conn, &input.settings, &plan, bytes, run_id, &events)
                    .await;
            let mut rep = upgrade_report(&input.name, &plan, done);
            if rep.result == "rolled_back" {
                cells_data_warning(&input, &mut rep);
            }
            rep.bytes_sent = events.bytes_sent();
            rep.steps = events.timings.into_inner().unwrap_or_default();
            rep.channel = input.release.as_ref().map(|r| r.channel.clone());
            rep.seconds = input.started.elapsed().as_secs_f64();
            return conn.report(rep);
        }
        Prepared::Rollback {
            input,
            conn,
            timings,
        } => (input, conn, timings),
    };
    let mark = Instant::now();
    obs.event(&Event::StepStarted {
        host: input.name.clone(),
        step: "rollback".into(),
    });
    let conn = Guarded::new(&conn, &INTERRUPT);
    let mut rep = match steps::rollback(&conn, &input.settings, run_id).await {
        Ok(r) => {
            let mut rep = HostReport::new(&input.name, "rolled_back");
            rep.to = Some(r.version);
            let mut rep = rep.with_detail(format!("restored {}", r.backup));
            cells_data_warning(&input, &mut rep);
            rep
        }
        Err(e) => step_failure(&input.name, "failed", &e),
    };
    rep.steps = timings;
    rep.steps.push(StepTiming {
        step: "rollback".into(),
        seconds: mark.elapsed().as_secs_f64(),
    });
    rep.seconds = input.started.elapsed().as_secs_f64();
    conn.report(rep)
}

/// Cells migrates its data when a new version first starts: a host of a Cells source that was
/// rolled back is told that its binary is back, not necessarily its data.
fn cells_data_warning(input: &HostInput, rep: &mut HostReport) {
    let source = input.vars.get("fleetup_source").and_then(Value::as_str);
    if source.is_some_and(|s| s.starts_with(crate::release::cells::SCHEME_PREFIX)) {
        let detail = rep.detail.get_or_insert_with(String::new);
        if !detail.is_empty() {
            detail.push('\n');
        }
        detail.push_str(CELLS_DATA_WARNING);
    }
}

/// What a rolled-back Cells host's report adds.
pub const CELLS_DATA_WARNING: &str = "Cells: the binary is rolled back, not the data: if the new \
     version started, it may have migrated CELLS_WORKING_DIR and the database; restore their \
     backup before trusting this host (docs/cells.md)";

fn upgrade_report(name: &str, plan: &Plan, done: Result<steps::Outcome, StepError>) -> HostReport {
    let mut rep = match (&plan.action, done) {
        (_, Ok(steps::Outcome::Upgraded { .. })) => HostReport::new(name, "upgraded"),
        (_, Ok(steps::Outcome::Unchanged)) => HostReport::new(name, "unchanged"),
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
            let mut rep = HostReport::new(name, "rolled_back").with_detail(detail);
            rep.failure = Some(host_error(&cause));
            rep
        }
        (Action::Refuse { reason } | Action::Blocked { reason }, Err(_)) => {
            plain_failure(name, "failed", "decide", reason.clone())
        }
        (_, Err(e)) => step_failure(name, "failed", &e),
    };
    rep.from = plan.probe.version.as_ref().map(ToString::to_string);
    rep.to = Some(plan.target.clone());
    rep
}

/// The bytes each host is sent: by artifact sha256 and compression, each held once.
type Payloads = HashMap<(String, Compression), Bytes>;

/// Downloads each artifact the plans need once, verified, holds it once in memory, and
/// compresses it once for each compression the plans use.
async fn fetch_artifacts<'a>(
    prepared: impl Iterator<Item = &'a Prepared>,
    channels: &Channels,
    fetch: &FetchOptions,
    display: &Display,
) -> Result<Payloads, RunError> {
    let cache = Cache::from_env()?;
    let mut out = Payloads::new();
    for p in prepared {
        let Prepared::Upgrade { input, plan, .. } = p else {
            continue;
        };
        let sha = &plan.artifact.sha256;
        if !matches!(plan.action, Action::Upgrade)
            || out.contains_key(&(sha.clone(), plan.compression))
        {
            continue;
        }
        let raw = match out.get(&(sha.clone(), Compression::None)) {
            Some(raw) => raw.clone(),
            None => {
                let Some(channel) = input.release.as_ref().and_then(|r| channels.get(r)) else {
                    continue;
                };
                let raw = fetch_one(channel, &plan.artifact, &cache, fetch, display).await?;
                out.insert((sha.clone(), Compression::None), raw.clone());
                raw
            }
        };
        if plan.compression != Compression::None {
            let c = plan.compression;
            let started = Instant::now();
            let packed = tokio::task::spawn_blocking(move || c.compress(&raw))
                .await
                .map_err(|e| RunError::Config(format!("compressing the artifact: {e}")))?
                .map_err(|e| RunError::Config(format!("compressing the artifact: {e}")))?;
            tracing::info!(
                "{} {}: {} bytes compressed to {} in {:.2} s",
                sha.get(..12).unwrap_or(sha),
                c.name(),
                plan.artifact.size,
                packed.len(),
                started.elapsed().as_secs_f64()
            );
            out.insert((sha.clone(), c), Bytes::from(packed));
        }
    }
    Ok(out)
}

/// Downloads one artifact into the cache (size and sha256 checked while it streams), reads it,
/// and checks what its channel requires beyond that (a Cells binary's signature). A binary
/// that fails that check is removed from the cache.
async fn fetch_one(
    channel: &Channel,
    artifact: &Artifact,
    cache: &Cache,
    fetch: &FetchOptions,
    display: &Display,
) -> Result<Bytes, RunError> {
    let url = channel.artifact_url(artifact)?;
    let progress = display.download(channel.describe(artifact));
    let path = download(&url, artifact, cache, fetch, &progress).await?;
    let bytes = Bytes::from(tokio::fs::read(&path).await.map_err(|e| ReleaseError::Io {
        what: path.display().to_string(),
        source: e,
    })?);
    // Hashing for an RSA check blocks for well under a second even for a large binary, and
    // nothing else runs meanwhile: no host is being worked on yet.
    let verdict = channel.check_bytes(artifact, &bytes);
    if verdict.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    verdict.map(|()| bytes)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "controller".to_owned())
}
