//! The arguments of `publish` that need more than clap: os/arch pairs with Go's names,
//! semantic versions, names that become file names, and `--expires`.

use std::path::PathBuf;

use super::{PublishError, Result};

/// The os/arch pairs Go builds for (`go tool dist list`, Go 1.23), Cells' naming.
pub const GO_PLATFORMS: &[&str] = &[
    "aix/ppc64",
    "android/386",
    "android/amd64",
    "android/arm",
    "android/arm64",
    "darwin/amd64",
    "darwin/arm64",
    "dragonfly/amd64",
    "freebsd/386",
    "freebsd/amd64",
    "freebsd/arm",
    "freebsd/arm64",
    "freebsd/riscv64",
    "illumos/amd64",
    "ios/amd64",
    "ios/arm64",
    "js/wasm",
    "linux/386",
    "linux/amd64",
    "linux/arm",
    "linux/arm64",
    "linux/loong64",
    "linux/mips",
    "linux/mips64",
    "linux/mips64le",
    "linux/mipsle",
    "linux/ppc64",
    "linux/ppc64le",
    "linux/riscv64",
    "linux/s390x",
    "netbsd/386",
    "netbsd/amd64",
    "netbsd/arm",
    "netbsd/arm64",
    "openbsd/386",
    "openbsd/amd64",
    "openbsd/arm",
    "openbsd/arm64",
    "openbsd/ppc64",
    "openbsd/riscv64",
    "plan9/386",
    "plan9/amd64",
    "plan9/arm",
    "solaris/amd64",
    "wasip1/wasm",
    "windows/386",
    "windows/amd64",
    "windows/arm",
    "windows/arm64",
];

/// Names people write for Go's os and arch names.
const ALIASES: &[(&str, &str)] = &[
    ("x86_64", "amd64"),
    ("x64", "amd64"),
    ("aarch64", "arm64"),
    ("armv7", "arm"),
    ("armv7l", "arm"),
    ("armhf", "arm"),
    ("i386", "386"),
    ("i686", "386"),
    ("x86", "386"),
    ("macos", "darwin"),
    ("osx", "darwin"),
    ("macosx", "darwin"),
    ("win", "windows"),
    ("win32", "windows"),
    ("win64", "windows"),
];

/// Product and channel names end up in file names: letters, digits, `.`, `_`, `-`, not
/// starting with a dot or dash.
pub(super) fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(PublishError::Usage(format!(
            "--{what} {name:?}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)"
        )))
    }
}

pub(super) fn parse_version(version: &str) -> Result<semver::Version> {
    semver::Version::parse(version).map_err(|e| {
        let hint = match version.strip_prefix(['v', 'V']) {
            Some(rest) if semver::Version::parse(rest).is_ok() => {
                format!(" (write {rest}, without the v)")
            }
            _ => String::new(),
        };
        PublishError::Usage(format!(
            "--version {version:?} is not a semantic version like 1.2.3 or 2.0.0-rc.1: {e}{hint}"
        ))
    })
}

/// `--expires`: a duration from `now` (`90d`, `12h`, `2w`, `30m`, `3600s`) or an RFC 3339
/// time; it must be in the future. Rounded to the second.
pub(super) fn parse_expires(text: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp> {
    let bad = |why: &str| {
        PublishError::Usage(format!(
            "--expires {text:?}: {why}; give a duration like 90d, 12h, 2w or an RFC 3339 time like 2030-01-01T00:00:00Z"
        ))
    };
    let t = text.trim();
    let at = if let Some(unit) = t.chars().last().filter(|c| "smhdw".contains(*c)) {
        let n: i64 = t[..t.len() - 1]
            .parse()
            .map_err(|_| bad("not a duration"))?;
        let secs_per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => 7 * 86_400,
        };
        let secs = n.checked_mul(secs_per).ok_or_else(|| bad("too far away"))?;
        now.checked_add(jiff::SignedDuration::from_secs(secs))
            .map_err(|_| bad("too far away"))?
    } else {
        t.parse::<jiff::Timestamp>()
            .map_err(|_| bad("not a duration nor an RFC 3339 time"))?
    };
    if at <= now {
        return Err(bad("is not in the future"));
    }
    Ok(jiff::Timestamp::from_second(at.as_second()).unwrap_or(at))
}

/// `OS/ARCH=FILE`, with Go's os and arch names.
pub(super) fn parse_artifact(spec: &str) -> Result<(String, String, PathBuf)> {
    let usage = || {
        PublishError::Usage(format!(
            "artifact {spec:?}: expected OS/ARCH=FILE with Go's names, e.g. linux/amd64=target/release/app"
        ))
    };
    let (platform, file) = spec.split_once('=').ok_or_else(usage)?;
    let (os, arch) = platform.split_once('/').ok_or_else(usage)?;
    if file.is_empty() {
        return Err(usage());
    }
    if !GO_PLATFORMS.contains(&platform) {
        let alias = |s: &str| {
            ALIASES
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(s))
                .map_or_else(|| s.to_ascii_lowercase(), |(_, go)| (*go).to_owned())
        };
        let suggestion = format!("{}/{}", alias(os), alias(arch));
        let hint = if GO_PLATFORMS.contains(&suggestion.as_str()) {
            format!("did you mean {suggestion}?")
        } else {
            let same_os: Vec<&str> = GO_PLATFORMS
                .iter()
                .filter(|p| p.starts_with(&format!("{}/", alias(os))))
                .copied()
                .collect();
            if same_os.is_empty() {
                "e.g. linux/amd64, linux/arm64, darwin/arm64, windows/amd64".to_owned()
            } else {
                format!("known for {}: {}", alias(os), same_os.join(", "))
            }
        };
        return Err(PublishError::Usage(format!(
            "artifact {spec:?}: {platform} is not a Go os/arch pair; {hint}"
        )));
    }
    Ok((os.to_owned(), arch.to_owned(), PathBuf::from(file)))
}
