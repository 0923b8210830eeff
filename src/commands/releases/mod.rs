//! `fleetup releases`: the releases on the channel the selected hosts follow, newest first,
//! after the channel index's signature has been verified (a Cells update server: [`cells`]).

mod cells;

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use crate::cli::{OutputFormat, ReleasesArgs, Settings};
use crate::inventory::Vars;
use crate::progress::{DownloadProgress, Mode};
use crate::release::cache::Cache;
use crate::release::fetch::{FetchOptions, download};
use crate::release::history::IndexHistory;
use crate::release::settings::{Overrides, ReleaseSettings};
use crate::release::source::{Source, VerifiedIndex, fetch_current_index};
use crate::release::{Release, TrustedKeys};
use crate::run::{Outcome, RunError, load_selection, refuse_host_formats, runtime, write_json};

pub fn run(s: &Settings, args: &ReleasesArgs) -> Result<Outcome, RunError> {
    refuse_host_formats(s, "releases", "has none: use text or json")?;
    let settings = channel_settings(s, args)?;
    if let Some(source) = crate::release::cells::CellsSource::parse(&settings.source) {
        let source = source.map_err(crate::release::ReleaseError::Cells)?;
        return cells::run(s, args, &settings, &source);
    }
    let keys = TrustedKeys::from_entries(&settings.public_keys)?;
    let source = Source::parse(&settings.source)?;
    let opts = FetchOptions::default();
    let rt = runtime()?;
    // Replay-checked like an upgrade's: an index older than one seen before from this URL is
    // refused, so a stale mirror cannot show an old list (or --download an old release).
    let history = IndexHistory::from_env()?;
    let verified = rt.block_on(fetch_current_index(
        &source,
        &settings.channel,
        &keys,
        jiff::Timestamp::now(),
        &opts,
        &history,
    ))?;
    let downloaded = if args.download {
        let mode = Mode::choose(s.progress, s.verbosity);
        Some(rt.block_on(download_release(&verified, args, &opts, mode))?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    let mut doc = to_json(&verified, args.pre);
    if let Some(files) = &downloaded {
        doc["downloaded"] = serde_json::to_value(files).unwrap_or_default();
    }
    match s.output {
        OutputFormat::Json => write_json(&mut out, &doc)?,
        OutputFormat::Jsonl => writeln!(out, "{doc}")?,
        _ => {
            render_text(&mut out, &verified, args.pre)?;
            for f in downloaded.iter().flatten() {
                writeln!(
                    out,
                    "cached {} {}/{}  {}  {}",
                    f.version, f.os, f.arch, f.sha256, f.path
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// An artifact that is in the cache, verified.
#[derive(Debug, serde::Serialize)]
struct Downloaded {
    version: String,
    os: String,
    arch: String,
    sha256: String,
    path: String,
}

impl Downloaded {
    /// `artifact` of release `version`, verified in the cache at `path`.
    fn new(version: &str, artifact: &crate::release::Artifact, path: &std::path::Path) -> Self {
        Self {
            version: version.to_owned(),
            os: artifact.os.clone(),
            arch: artifact.arch.clone(),
            sha256: artifact.sha256.clone(),
            path: path.display().to_string(),
        }
    }
}

/// Downloads every artifact of the chosen release into the cache, one after the other.
async fn download_release(
    v: &VerifiedIndex,
    args: &ReleasesArgs,
    opts: &FetchOptions,
    mode: Mode,
) -> Result<Vec<Downloaded>, RunError> {
    let release = v.index.select(args.version.as_deref(), args.pre)?;
    let cache = Cache::from_env()?;
    let mut done = Vec::new();
    for a in &release.artifacts {
        let url = v.artifact_url(a)?;
        let what = format!(
            "{} {} {}/{}",
            v.index.product, release.version, a.os, a.arch
        );
        let observer = DownloadProgress::new(mode, what);
        let path = download(&url, a, &cache, opts, &observer).await?;
        done.push(Downloaded::new(&release.version, a, &path));
    }
    Ok(done)
}

/// The one channel to list: from the flags alone, or from the selected hosts' variables (which
/// must agree; a fleet on several channels is listed one channel at a time with `--limit`).
fn channel_settings(s: &Settings, args: &ReleasesArgs) -> Result<ReleaseSettings, RunError> {
    let flags = Overrides {
        source: args.source.clone(),
        channel: args.channel.clone(),
        public_keys: args.public_keys.clone(),
        package: args.package.clone(),
    };
    if s.inventory.is_empty() {
        return ReleaseSettings::from_vars(&Vars::new(), &flags).map_err(RunError::Config);
    }
    let (inv, selected) = load_selection(s)?;
    let mut channels: BTreeMap<ReleaseSettings, Vec<String>> = BTreeMap::new();
    for host in selected {
        let settings = ReleaseSettings::from_vars(&inv.host_vars(&host), &flags)
            .map_err(|e| RunError::Config(format!("host {host}: {e}")))?;
        channels.entry(settings).or_default().push(host);
    }
    if channels.len() > 1 {
        let list: Vec<String> = channels
            .iter()
            .map(|(c, hosts)| {
                format!(
                    "{} channel {} ({} hosts, e.g. {})",
                    c.source,
                    c.channel,
                    hosts.len(),
                    hosts[0]
                )
            })
            .collect();
        return Err(RunError::Config(format!(
            "the selected hosts follow {} release channels: {}; pick one with --limit, or name it with --source and --channel",
            channels.len(),
            list.join("; ")
        )));
    }
    channels
        .into_keys()
        .next()
        .ok_or_else(|| RunError::Config("no host selected".into()))
}

fn listed(v: &VerifiedIndex, pre: bool) -> impl Iterator<Item = &Release> {
    v.index
        .releases
        .iter()
        .filter(move |r| pre || r.semver().is_ok_and(|v| v.pre.is_empty()))
}

fn render_text(out: &mut impl Write, v: &VerifiedIndex, pre: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "{} on channel {} at {} — signed by key {}, index expires {}",
        v.index.product, v.index.channel, v.source, v.key_id, v.index.expires
    )?;
    let rows: Vec<&Release> = listed(v, pre).collect();
    if rows.is_empty() {
        writeln!(out, "no releases")?;
    } else {
        let width = rows
            .iter()
            .map(|r| r.version.len())
            .max()
            .unwrap_or(0)
            .max("VERSION".len());
        writeln!(out, "{:<width$}  {:<10}  LABEL", "VERSION", "DATE")?;
        for r in &rows {
            let date = r.date.get(..10).unwrap_or(&r.date);
            writeln!(out, "{:<width$}  {:<10}  {}", r.version, date, r.label)?;
        }
    }
    let hidden = v.index.releases.len() - rows.len();
    if hidden > 0 {
        writeln!(
            out,
            "({hidden} pre-release{} not shown: --pre lists them)",
            if hidden == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

fn to_json(v: &VerifiedIndex, pre: bool) -> serde_json::Value {
    json!({
        "product": v.index.product,
        "channel": v.index.channel,
        "source": v.source.to_string(),
        "key_id": v.key_id,
        "expires": v.index.expires,
        "releases": listed(v, pre).collect::<Vec<_>>(),
    })
}
