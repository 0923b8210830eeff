//! `fleetup releases` against a Cells update server: what it offers to a host of a given
//! version and platform (`--current-version`, `--os`, `--arch`; by default everything, for this
//! machine's platform), newest first, each binary marked when it would be refused (no checksum
//! or signature). With `--download`, the chosen version's binary is downloaded into the cache
//! and its signature checked against the configured keys.

use std::io::Write;

use serde_json::json;

use super::Downloaded;
use crate::cli::{OutputFormat, ReleasesArgs, Settings};
use crate::progress::{DownloadProgress, Mode};
use crate::release::ReleaseError;
use crate::release::cache::Cache;
use crate::release::cells::{self, CellsSource, Package, UpdateRequest};
use crate::release::fetch::{FetchOptions, download, http_client};
use crate::release::settings::ReleaseSettings;
use crate::run::{Outcome, RunError, runtime, write_json};
use crate::steps::version::{go_arch, go_os};

pub(super) fn run(
    s: &Settings,
    args: &ReleasesArgs,
    settings: &ReleaseSettings,
    source: &CellsSource,
) -> Result<Outcome, RunError> {
    let keys = cells::keys_from_entries(&settings.public_keys).map_err(ReleaseError::Cells)?;
    let req = UpdateRequest {
        channel: settings.channel.clone(),
        package_name: settings.package.clone(),
        current_version: args
            .current_version
            .clone()
            .unwrap_or_else(|| "0.0.0".into()),
        goos: args
            .os
            .clone()
            .unwrap_or_else(|| go_os(std::env::consts::OS)),
        goarch: args
            .arch
            .clone()
            .unwrap_or_else(|| go_arch(std::env::consts::ARCH)),
    };
    let opts = FetchOptions::default();
    let rt = runtime()?;
    let url = source.endpoint.to_string();
    let answer = rt.block_on(async {
        let client = http_client(&source.endpoint, &opts)?;
        cells::check_for_updates(&client, source, &req)
            .await
            .map_err(ReleaseError::Cells)
    })?;
    let pre = args.pre || settings.channel == "dev";
    let answers = [(req.clone(), answer)];
    let offered =
        cells::merge_offers(&url, &settings.package, &answers).map_err(ReleaseError::Cells)?;
    let mut rows: Vec<&Package> = offered.iter().collect();
    rows.sort_by(|a, b| newest_first(a, b));
    let hidden = rows.iter().filter(|p| !pre && is_pre(p)).count();
    rows.retain(|p| pre || !is_pre(p));

    let downloaded = if args.download {
        let chosen = cells::select(&offered, args.version.as_deref(), pre).ok_or_else(|| {
            ReleaseError::VersionNotFound {
                product: settings.package.clone(),
                channel: settings.channel.clone(),
                version: args.version.clone().unwrap_or_else(|| "(newest)".into()),
                nearest: rows
                    .iter()
                    .map(|p| p.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        let release =
            cells::release_of(&url, &offered, &chosen.version).map_err(ReleaseError::Cells)?;
        let mode = Mode::choose(s.progress, s.verbosity);
        let cache = Cache::from_env()?;
        let mut done = Vec::new();
        for a in &release.artifacts {
            let what = format!(
                "{} {} {}/{}",
                settings.package, release.version, a.os, a.arch
            );
            let bin = reqwest::Url::parse(&a.url).map_err(|e| ReleaseError::Artifact {
                what: a.url.clone(),
                reason: e.to_string(),
            })?;
            let path = rt.block_on(download(
                &bin,
                a,
                &cache,
                &opts,
                &DownloadProgress::new(mode, what),
            ))?;
            let bytes = std::fs::read(&path).map_err(|e| ReleaseError::Io {
                what: path.display().to_string(),
                source: e,
            })?;
            let package = cells::package_for(&offered, &release.version, &a.os, &a.arch)
                .expect("the release was made of these packages");
            if let Err(reason) = cells::verify_binary(package, &bytes, &keys) {
                let _ = std::fs::remove_file(&path);
                return Err(ReleaseError::Cells(cells::CellsError::Refused {
                    package: settings.package.clone(),
                    version: release.version.clone(),
                    url: a.url.clone(),
                    reason,
                })
                .into());
            }
            done.push(Downloaded::new(&release.version, a, &path));
        }
        Some(done)
    } else {
        None
    };

    let mut out = std::io::stdout().lock();
    match s.output {
        OutputFormat::Json | OutputFormat::Jsonl => {
            let mut doc = json!({
                "product": settings.package,
                "channel": settings.channel,
                "source": url,
                "asked": {
                    "current_version": req.current_version,
                    "os": req.goos,
                    "arch": req.goarch,
                },
                "keys": keys.iter().map(|k| json!({"what": k.what, "bits": k.bits()})).collect::<Vec<_>>(),
                "releases": rows.iter().map(|p| row_json(p)).collect::<Vec<_>>(),
            });
            if let Some(files) = &downloaded {
                doc["downloaded"] = serde_json::to_value(files).unwrap_or_default();
            }
            if s.output == OutputFormat::Json {
                write_json(&mut out, &doc)?;
            } else {
                writeln!(out, "{doc}")?;
            }
        }
        _ => {
            writeln!(
                out,
                "{} on channel {} at {} — offered to a {}/{} host running {}",
                settings.package, settings.channel, url, req.goos, req.goarch, req.current_version
            )?;
            render_rows(&mut out, &rows)?;
            if hidden > 0 {
                writeln!(
                    out,
                    "({hidden} pre-release{} not shown: --pre lists them)",
                    if hidden == 1 { "" } else { "s" }
                )?;
            }
            for f in downloaded.iter().flatten() {
                writeln!(
                    out,
                    "cached {} {}/{}  {}  {}  (signature verified)",
                    f.version, f.os, f.arch, f.sha256, f.path
                )?;
            }
        }
    }
    Ok(Outcome::Success)
}

fn semver_of(p: &Package) -> Option<semver::Version> {
    semver::Version::parse(p.version.trim().trim_start_matches('v')).ok()
}

fn is_pre(p: &Package) -> bool {
    semver_of(p).is_some_and(|v| !v.pre.is_empty())
}

/// Newest first by semver precedence; versions that are not semver last.
fn newest_first(a: &Package, b: &Package) -> std::cmp::Ordering {
    match (semver_of(a), semver_of(b)) {
        (Some(x), Some(y)) => y.cmp_precedence(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.version.cmp(&b.version),
    }
}

/// Why fleetup would refuse this binary, if it would.
fn refusal(p: &Package) -> Option<String> {
    cells::checksum_hex(p)
        .err()
        .or_else(|| (p.binary_size == 0).then(|| "BinarySize is missing".to_owned()))
}

fn date(p: &Package) -> String {
    i64::try_from(p.release_date)
        .ok()
        .filter(|&d| d > 0)
        .and_then(|d| jiff::Timestamp::from_second(d).ok())
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn row_json(p: &Package) -> serde_json::Value {
    json!({
        "version": p.version,
        "date": date(p),
        "label": p.label,
        "os": p.binary_os,
        "arch": p.binary_arch,
        "size": p.binary_size,
        "url": p.binary_url,
        "sha256": cells::checksum_hex(p).ok(),
        "refused": refusal(p),
    })
}

fn render_rows(out: &mut impl Write, rows: &[&Package]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "nothing offered");
    }
    let width = rows
        .iter()
        .map(|p| p.version.chars().count().min(40))
        .max()
        .unwrap_or(0)
        .max("VERSION".len());
    writeln!(
        out,
        "{:<width$}  {:<10}  {:>9}  LABEL",
        "VERSION", "DATE", "SIZE"
    )?;
    for p in rows {
        let version: String = p
            .version
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        let label: String = p
            .label
            .chars()
            .take(80)
            .flat_map(char::escape_default)
            .collect();
        let size = format!("{:.1} MiB", p.binary_size as f64 / f64::from(1 << 20));
        write!(
            out,
            "{version:<width$}  {:<10}  {size:>9}  {label}",
            date(p)
        )?;
        match refusal(p) {
            Some(why) => writeln!(out, "  [refused: {why}]")?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
