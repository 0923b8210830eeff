//! The per-host plan: what `check` prints and exactly what `upgrade` then executes. Built by
//! [`decide`] from a [`Probe`] (pure, no round trip).

use crate::compress::Compression;
use crate::release::Artifact;
use crate::release::index::{Change, compare_for_host};
use crate::steps::probe::Probe;
use crate::steps::settings::{HostSettings, SetcapPolicy};

/// Room kept free beyond the artifact itself when staging (the lock file, directory growth).
pub const MARGIN_BYTES: u64 = 1 << 20;

/// What will happen on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the artifact and swap it in.
    Upgrade,
    /// Already at the target (same sha256): nothing is sent.
    None,
    /// Not allowed (a downgrade without `--allow-downgrade`, an unknown version, another
    /// platform's artifact).
    Refuse { reason: String },
    /// Allowed but impossible on this host (no room, directory not writable).
    Blocked { reason: String },
}

/// The plan of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub host: String,
    pub action: Action,
    /// What the host runs.
    pub probe: Probe,
    /// The release version to install.
    pub target: String,
    pub artifact: Artifact,
    /// Whether `setcap cap_net_bind_service=+ep` is applied to the staged file.
    pub setcap: bool,
    /// Bytes the stage needs free in the binary's directory.
    pub needed_bytes: u64,
    /// How the artifact travels (`fleetup_compress` and what the host can decompress).
    pub compression: Compression,
}

impl Plan {
    /// `upgrade`, `none`, `refuse` or `blocked`.
    pub fn action_name(&self) -> &'static str {
        match self.action {
            Action::Upgrade => "upgrade",
            Action::None => "none",
            Action::Refuse { .. } => "refuse",
            Action::Blocked { .. } => "blocked",
        }
    }

    /// The version the host runs, as text (`unknown` when it reported none).
    pub fn current(&self) -> String {
        self.probe
            .version
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string)
    }

    /// Why: the refusal or block reason, or what an upgrade will do.
    pub fn reason(&self) -> String {
        match &self.action {
            Action::Upgrade => {
                let mut r = format!(
                    "{} -> {}: send {} to {}",
                    self.current(),
                    self.target,
                    mib(self.artifact.size),
                    self.probe.real_path
                );
                if self.compression != Compression::None {
                    r.push_str(&format!(" ({} compressed)", self.compression.name()));
                }
                if self.setcap {
                    r.push_str(", setcap cap_net_bind_service");
                }
                r
            }
            Action::None if self.artifact.sha256.is_empty() => format!(
                "already at {} (the update server offers nothing newer for {}/{})",
                self.target, self.probe.os, self.probe.arch
            ),
            Action::None => format!("already at {} (same sha256)", self.target),
            Action::Refuse { reason } | Action::Blocked { reason } => reason.clone(),
        }
    }
}

impl Plan {
    /// The plan of a host that stays as it is because its release source — a Cells update
    /// server, which offers only what is newer than the host runs — offered it nothing: no
    /// artifact (its sha256 is empty), nothing sent, and `target` the version it runs.
    pub fn up_to_date(probe: &Probe, settings: &HostSettings, version: &str) -> Plan {
        Plan {
            host: probe.host.clone(),
            action: Action::None,
            probe: probe.clone(),
            target: version.to_owned(),
            artifact: Artifact {
                os: probe.os.clone(),
                arch: probe.arch.clone(),
                url: String::new(),
                size: 0,
                sha256: String::new(),
            },
            setcap: false,
            needed_bytes: 0,
            compression: settings.compress.choose(&probe.decompressors),
        }
    }
}

/// Decides what to do on a host (pure). In order: another platform's artifact → refuse; same
/// sha256 → none; downgrade or unknown version → refuse unless allowed; directory not writable
/// or not enough room → blocked; else upgrade.
pub fn decide(
    probe: &Probe,
    settings: &HostSettings,
    target: &str,
    artifact: &Artifact,
    allow_downgrade: bool,
) -> Plan {
    let needed_bytes = artifact.size.saturating_add(MARGIN_BYTES);
    let setcap = match settings.setcap {
        SetcapPolicy::Always => true,
        SetcapPolicy::Never => false,
        SetcapPolicy::Auto => {
            probe.net_bind_cap == Some(true) || settings.bind_port.is_some_and(|p| p < 1024)
        }
    };
    let action = decide_action(probe, target, artifact, allow_downgrade, needed_bytes);
    Plan {
        host: probe.host.clone(),
        action,
        probe: probe.clone(),
        target: target.to_owned(),
        artifact: artifact.clone(),
        setcap,
        needed_bytes,
        compression: settings.compress.choose(&probe.decompressors),
    }
}

fn decide_action(
    probe: &Probe,
    target: &str,
    artifact: &Artifact,
    allow_downgrade: bool,
    needed_bytes: u64,
) -> Action {
    if artifact.os != probe.os || artifact.arch != probe.arch {
        return Action::Refuse {
            reason: format!(
                "the artifact is for {}/{}, the host is {}/{}",
                artifact.os, artifact.arch, probe.os, probe.arch
            ),
        };
    }
    if !probe.sha256.is_empty() && artifact.sha256.eq_ignore_ascii_case(&probe.sha256) {
        return Action::None;
    }
    let current = probe.version.as_ref().map_or_else(
        || probe.version_output.trim().to_owned(),
        ToString::to_string,
    );
    match compare_for_host(&current, target, allow_downgrade) {
        Ok(Change::Upgrade | Change::Same | Change::Downgrade | Change::Unknown) => {}
        Err(e) => {
            return Action::Refuse {
                reason: e.to_string(),
            };
        }
    }
    if !probe.dir_writable {
        return Action::Blocked {
            reason: format!(
                "{}:{}: not writable by {}",
                probe.host, probe.dir, probe.user
            ),
        };
    }
    match probe.free_bytes {
        Some(free) if free < needed_bytes => Action::Blocked {
            reason: format!(
                "no space on {}:{}: {} free, {} needed",
                probe.host,
                probe.dir,
                mib(free),
                mib(needed_bytes)
            ),
        },
        _ => Action::Upgrade,
    }
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.1} MiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> Probe {
        Probe {
            host: "web1".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            user: "root".into(),
            binary: "/usr/bin/app".into(),
            real_path: "/usr/bin/app".into(),
            dir: "/usr/bin".into(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            owner: "root".into(),
            group: "root".into(),
            size: 10,
            sha256: "a".repeat(64),
            identity: "1:2:10:mtime:ctime".into(),
            version: Some(semver::Version::new(1, 2, 0)),
            version_output: "app 1.2.0\n".into(),
            net_bind_cap: Some(false),
            free_bytes: Some(100 << 20),
            dir_writable: true,
            backups: vec![],
            locked: false,
            decompressors: vec![],
        }
    }

    fn artifact(sha: char, size: u64) -> Artifact {
        Artifact {
            os: "linux".into(),
            arch: "amd64".into(),
            url: "app".into(),
            size,
            sha256: sha.to_string().repeat(64),
        }
    }

    #[test]
    fn decisions() {
        let s = HostSettings::for_binary("/usr/bin/app");
        let p = probe();
        let plan = decide(&p, &s, "1.3.0", &artifact('b', 5 << 20), false);
        assert_eq!(plan.action, Action::Upgrade);
        assert_eq!(plan.action_name(), "upgrade");
        assert!(
            plan.reason().starts_with("1.2.0 -> 1.3.0: send 5.0 MiB"),
            "{}",
            plan.reason()
        );
        assert!(!plan.setcap);

        let plan = decide(&p, &s, "1.3.0", &artifact('a', 5), false);
        assert_eq!(plan.action, Action::None);
        // A binary the probe did not hash (its size is no artifact's) is never "the same".
        let mut unhashed = p.clone();
        unhashed.sha256.clear();
        let plan = decide(&unhashed, &s, "1.3.0", &artifact('a', 5), false);
        assert_eq!(plan.action, Action::Upgrade);

        let plan = decide(&p, &s, "1.1.0", &artifact('b', 5), false);
        assert!(
            matches!(&plan.action, Action::Refuse { reason } if reason.contains("--allow-downgrade"))
        );
        let plan = decide(&p, &s, "1.1.0", &artifact('b', 5), true);
        assert_eq!(plan.action, Action::Upgrade);

        let mut small = probe();
        small.free_bytes = Some(512 * 1024);
        let plan = decide(&small, &s, "1.3.0", &artifact('b', 2 << 20), false);
        assert_eq!(
            plan.action,
            Action::Blocked {
                reason: "no space on web1:/usr/bin: 0.5 MiB free, 3.0 MiB needed".into()
            }
        );

        let mut ro = probe();
        ro.dir_writable = false;
        let plan = decide(&ro, &s, "1.3.0", &artifact('b', 5), false);
        assert!(
            matches!(&plan.action, Action::Blocked { reason } if reason.contains("not writable"))
        );

        let mut arm = artifact('b', 5);
        arm.arch = "arm64".into();
        let plan = decide(&p, &s, "1.3.0", &arm, false);
        assert!(
            matches!(&plan.action, Action::Refuse { reason } if reason.contains("linux/arm64"))
        );

        let mut unknown = probe();
        unknown.version = None;
        let plan = decide(&unknown, &s, "1.3.0", &artifact('b', 5), false);
        assert_eq!(plan.action_name(), "refuse");
    }

    #[test]
    fn setcap_policy() {
        let mut s = HostSettings::for_binary("/usr/bin/app");
        let mut p = probe();
        let a = artifact('b', 5);
        assert!(!decide(&p, &s, "1.3.0", &a, false).setcap);
        p.net_bind_cap = Some(true);
        assert!(decide(&p, &s, "1.3.0", &a, false).setcap);
        p.net_bind_cap = Some(false);
        s.bind_port = Some(80);
        assert!(decide(&p, &s, "1.3.0", &a, false).setcap);
        s.bind_port = Some(8080);
        assert!(!decide(&p, &s, "1.3.0", &a, false).setcap);
        s.setcap = SetcapPolicy::Always;
        assert!(decide(&p, &s, "1.3.0", &a, false).setcap);
        s.setcap = SetcapPolicy::Never;
        p.net_bind_cap = Some(true);
        assert!(!decide(&p, &s, "1.3.0", &a, false).setcap);
    }
}
