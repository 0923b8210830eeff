//! Stage (1 round trip, +1 to remove the file when it reports the wrong version or the
//! command was cut off): the artifact goes on stdin into a new, uniquely named file in the
//! binary's own directory (never /tmp: the swap's rename must not cross filesystems), capped
//! at the artifact's size, fsynced, then checked **on the host** (size, sha256), given the old
//! binary's owner, group and mode, `setcap` last (chown clears capabilities), and asked its
//! version. Any failure removes the file; the target is never touched here.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use super::settings::HostSettings;
use super::version::first_semver;
use super::{Step, StepError, join, random_suffix, script_command};
use crate::plan::{Plan, mib};
use crate::transport::{CommandOutput, RemoteCommand, Transport};

/// Seconds the staged binary's version command may run.
pub const VERSION_TIMEOUT_SECS: u64 = 10;

/// `$1` temp path, `$2` size, `$3` sha256, `$4` uid, `$5` gid, `$6` octal mode, `$7` setcap
/// (`1`/`0`), `$8` seconds for the version command, `$9` the stream's compression (`none`,
/// `zstd`, `gzip`), `$10` the bytes on the wire, `$11…` the version argv (run on the temp
/// file). Prints `staged` then the version output; on failure removes the file, says why on
/// stderr, exits 1. A compressed stream is decompressed into the file, capped at one byte more
/// than the artifact (so a bad stream cannot fill the disk), and the file is then checked
/// against the artifact's size and sha256 exactly as an uncompressed one.
pub const STAGE_SCRIPT: &str = concat!(
    "set -u\n",
    sha_fn!(),
    r#"tmp=$1 size=$2 sha=$3 uid=$4 gid=$5 mode=$6 cap=$7 vt=$8 comp=$9 wire=${10}; shift 10
umask 077
if ! (set -C; : > "$tmp"); then echo "fleetup-stage: cannot create $tmp" >&2; exit 1; fi
trap 'rm -f -- "$tmp"; exit 1' HUP INT TERM
fail() { rm -f -- "$tmp"; echo "fleetup-stage: $1" >&2; exit 1; }
case $comp in
none) head -c "$size" > "$tmp" || fail "writing $tmp failed" ;;
zstd|gzip) head -c "$wire" | "$comp" -d -c -q | head -c $((size + 1)) > "$tmp" || fail "writing $tmp failed" ;;
*) fail "unknown compression $comp" ;;
esac
[ "$(head -c 1 | wc -c)" -eq 0 ] || fail "more than the expected $wire bytes were sent"
got=$(stat -c %s -- "$tmp") || fail "cannot stat $tmp"
[ "$got" = "$size" ] || fail "received $got bytes, expected $size"
sync -- "$tmp" || fail "fsync of $tmp failed"
sum=$(sha < "$tmp") || fail "cannot hash $tmp"
[ "${sum%% *}" = "$sha" ] || fail "sha256 mismatch on the host: got ${sum%% *}, expected $sha"
chown -- "$uid:$gid" "$tmp" || fail "chown $uid:$gid failed"
chmod -- "$mode" "$tmp" || fail "chmod $mode failed"
if [ "$cap" = 1 ]; then setcap cap_net_bind_service=+ep "$tmp" || fail "setcap cap_net_bind_service=+ep failed"; fi
echo staged
if command -v timeout >/dev/null 2>&1; then set -- timeout -k 2 "$vt" "$@"; fi
"$@" </dev/null 2>&1 | head -c 16384
exit 0
"#
);

/// A staged file, ready to be swapped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub path: String,
    /// What its version command printed.
    pub version_output: String,
}

/// `.<name>.fleetup-<random>` in `dir`.
pub fn temp_path(dir: &str, name: &str) -> String {
    join(dir, &format!(".{name}.fleetup-{}", random_suffix()))
}

/// The stage command for `plan`, writing to `tmp`, `wire_size` bytes coming on stdin (the
/// artifact compressed as `plan.compression` says).
pub fn stage_command(
    settings: &HostSettings,
    plan: &Plan,
    tmp: &str,
    wire_size: usize,
) -> RemoteCommand {
    let p = &plan.probe;
    let mut args = vec![
        tmp.to_owned(),
        plan.artifact.size.to_string(),
        plan.artifact.sha256.to_ascii_lowercase(),
        p.uid.to_string(),
        p.gid.to_string(),
        format!("{:o}", p.mode),
        if plan.setcap { "1" } else { "0" }.to_owned(),
        VERSION_TIMEOUT_SECS.to_string(),
        plan.compression.name().to_owned(),
        wire_size.to_string(),
    ];
    args.extend(settings.version_argv(tmp));
    script_command(
        STAGE_SCRIPT,
        "fleetup-stage",
        args,
        settings,
        settings.transfer_timeout,
    )
}

/// `rm -f -- PATH` (cleanup of a temp file).
pub fn remove_command(settings: &HostSettings, path: &str) -> RemoteCommand {
    let mut cmd = RemoteCommand::new(["rm", "-f", "--", path], settings.command_timeout);
    cmd.become_user.clone_from(&settings.become_user);
    cmd
}

/// Checks what the staged binary printed against the target version (build metadata
/// ignored).
pub fn check_version(output: &str, target: &str) -> Result<(), String> {
    let want = semver::Version::parse(target.trim().trim_start_matches('v'))
        .map_err(|e| format!("target version {target:?}: {e}"))?;
    match first_semver(output) {
        Some(v) if v.cmp_precedence(&want).is_eq() => Ok(()),
        Some(v) => Err(format!(
            "the staged binary reports version {v}, expected {want}"
        )),
        None => Err(format!(
            "the staged binary reports no version (expected {want}); it printed: {:?}",
            output.trim()
        )),
    }
}

/// Stages `artifact` (the bytes of `plan.artifact`, compressed as `plan.compression` says)
/// next to the binary.
pub async fn stage<T: Transport>(
    t: &T,
    settings: &HostSettings,
    plan: &Plan,
    artifact: Bytes,
    sent: Arc<AtomicU64>,
) -> Result<Staged, StepError> {
    let name = super::split_path(&plan.probe.real_path).1;
    let tmp = temp_path(&plan.probe.dir, name);
    let cmd = stage_command(settings, plan, &tmp, artifact.len());
    let out = t
        .exec_counted(&cmd, artifact, sent)
        .await
        .map_err(|e| StepError::from_transport(t.host(), Step::Stage, &cmd, &e));
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            cleanup(t, settings, &tmp).await;
            return Err(e);
        }
    };
    let stdout = out.stdout_text();
    let Some(version_output) = stdout.strip_prefix("staged\n") else {
        if out.success() || out.status.is_none() {
            cleanup(t, settings, &tmp).await;
        }
        return Err(StepError::from_output(
            t.host(),
            Step::Stage,
            &cmd,
            &out,
            failure_message(t.host(), plan, &out),
        ));
    };
    if let Err(m) = check_version(version_output, &plan.target) {
        cleanup(t, settings, &tmp).await;
        return Err(StepError::from_output(t.host(), Step::Stage, &cmd, &out, m));
    }
    Ok(Staged {
        path: tmp,
        version_output: version_output.to_owned(),
    })
}

/// Why the stage command failed, in words the operator can act on when its stderr shows a
/// cause: no space in the binary's directory, a directory the user may not write, an owner the
/// user may not give; else its last stderr line.
pub fn failure_message(host: &str, plan: &Plan, out: &CommandOutput) -> String {
    let stderr = out.stderr_text();
    let line = |needle: &str| stderr.lines().find(|l| l.contains(needle)).map(str::trim);
    let p = &plan.probe;
    if let Some(cause) = line("No space left on device") {
        return format!(
            "no space on {host}:{} for the {} release ({cause})",
            p.dir,
            mib(plan.artifact.size)
        );
    }
    if stderr.contains("fleetup-stage: cannot create") {
        let denied = [
            "Permission denied",
            "Read-only file system",
            "Operation not permitted",
        ];
        if let Some(cause) = denied.iter().find_map(|d| line(d)) {
            return format!("{host}:{} is not writable by {} ({cause})", p.dir, p.user);
        }
    }
    if stderr.contains("fleetup-stage: chown")
        && let Some(cause) = line("Operation not permitted")
    {
        return format!(
            "{} on {host} may not give the new file the owner of {} ({}:{}): {cause}; run the steps as root (ansible_become)",
            p.user, p.real_path, p.owner, p.group
        );
    }
    super::failure_reason(out)
}

/// Best effort: removes a temp file (1 round trip).
pub(crate) async fn cleanup<T: Transport>(t: &T, settings: &HostSettings, path: &str) {
    let cmd = remove_command(settings, path);
    if let Err(e) = t.exec(&cmd, None).await {
        tracing::warn!(host = t.host(), "could not remove {path}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::decide;
    use crate::release::Artifact;
    use crate::steps::probe::parse_probe;

    #[test]
    fn stage_command_carries_values_as_parameters() {
        let probe = parse_probe(
            "h",
            "/opt/a b/app",
            "fleetup-probe 1\nos=Linux\narch=x86_64\nuser=root\nreal=/opt/a b/app\n\
             stat=4750 65534 65534 10 nobody nogroup\nidentity=1:2:10:m:c\nsha256=\
             0000000000000000000000000000000000000000000000000000000000000000\nwritable=1\n\
             getcap| /opt/a b/app cap_net_bind_service=ep\nversion| 1.0.0\nend=1\n",
        )
        .unwrap();
        let mut s = HostSettings::for_binary("/opt/a b/app");
        s.become_user = Some("root".into());
        let a = Artifact {
            os: "linux".into(),
            arch: "amd64".into(),
            url: "u".into(),
            size: 42,
            sha256: "AB".repeat(32),
        };
        let plan = decide(&probe, &s, "1.1.0", &a, false);
        let tmp = temp_path(&probe.dir, "app");
        assert!(tmp.starts_with("/opt/a b/.app.fleetup-"), "{tmp}");
        let c = stage_command(&s, &plan, &tmp, 42);
        assert_eq!(c.argv[..4], ["sh", "-c", STAGE_SCRIPT, "fleetup-stage"]);
        assert_eq!(
            c.argv[4..],
            [
                tmp.as_str(),
                "42",
                &"ab".repeat(32),
                "65534",
                "65534",
                "4750",
                "1",
                "10",
                "none",
                "42",
                tmp.as_str(),
                "--version"
            ]
        );
        assert_eq!(c.full_argv()[..5], ["sudo", "-n", "-u", "root", "--"]);
        assert_eq!(
            remove_command(&s, "/x/-y").argv,
            ["rm", "-f", "--", "/x/-y"]
        );
    }

    /// A plan for `/opt/demo/app` (root's) on `web1`, probed as `user`, sending 64 MiB.
    fn plan_as(user: &str) -> Plan {
        let probe = parse_probe(
            "web1",
            "/opt/demo/app",
            &format!(
                "fleetup-probe 1\nos=Linux\narch=x86_64\nuser={user}\nreal=/opt/demo/app\n\
                 stat=755 0 0 10 root root\nidentity=1:2:10:m:c\nsha256=-\nwritable=1\n\
                 version| 1.0.0\nend=1\n"
            ),
        )
        .unwrap();
        let a = Artifact {
            os: "linux".into(),
            arch: "amd64".into(),
            url: "u".into(),
            size: 64 << 20,
            sha256: "ab".repeat(32),
        };
        decide(
            &probe,
            &HostSettings::for_binary("/opt/demo/app"),
            "1.1.0",
            &a,
            false,
        )
    }

    fn failed(stderr: &str) -> CommandOutput {
        CommandOutput {
            status: Some(1),
            stderr: stderr.as_bytes().to_vec(),
            ..CommandOutput::default()
        }
    }

    #[test]
    fn failure_messages_name_the_host_the_directory_and_the_cause() {
        let plan = plan_as("root");
        let tmp = "/opt/demo/.app.fleetup-0123456789ab";
        let full = failed(&format!(
            "head: error writing 'standard output': No space left on device\n\
             fleetup-stage: writing {tmp} failed\n"
        ));
        assert_eq!(
            failure_message("web1", &plan, &full),
            "no space on web1:/opt/demo for the 64.0 MiB release \
             (head: error writing 'standard output': No space left on device)"
        );
        // No inode left for the file: the shell's reason is kept (not sent to /dev/null).
        let no_inode = failed(&format!(
            "fleetup-stage: 4: cannot create {tmp}: No space left on device\n\
             fleetup-stage: cannot create {tmp}\n"
        ));
        assert_eq!(
            failure_message("web1", &plan, &no_inode),
            format!(
                "no space on web1:/opt/demo for the 64.0 MiB release \
                 (fleetup-stage: 4: cannot create {tmp}: No space left on device)"
            )
        );
        let denied = failed(&format!(
            "fleetup-stage: 3: cannot create {tmp}: Permission denied\n\
             fleetup-stage: cannot create {tmp}\n"
        ));
        assert_eq!(
            failure_message("web1", &plan_as("deploy"), &denied),
            format!(
                "web1:/opt/demo is not writable by deploy \
                 (fleetup-stage: 3: cannot create {tmp}: Permission denied)"
            )
        );
        let read_only = failed(&format!(
            "fleetup-stage: 3: cannot create {tmp}: Read-only file system\n\
             fleetup-stage: cannot create {tmp}\n"
        ));
        assert!(
            failure_message("web1", &plan, &read_only)
                .starts_with("web1:/opt/demo is not writable by root ("),
            "{}",
            failure_message("web1", &plan, &read_only)
        );
        let chown = failed(&format!(
            "chown: changing ownership of '{tmp}': Operation not permitted\n\
             fleetup-stage: chown 0:0 failed\n"
        ));
        assert_eq!(
            failure_message("web1", &plan_as("deploy"), &chown),
            format!(
                "deploy on web1 may not give the new file the owner of /opt/demo/app (root:root): \
                 chown: changing ownership of '{tmp}': Operation not permitted; \
                 run the steps as root (ansible_become)"
            )
        );
        // Anything else: the last line, as before.
        let exists = failed(&format!(
            "fleetup-stage: 3: cannot create {tmp}: File exists\nfleetup-stage: cannot create {tmp}\n"
        ));
        assert_eq!(
            failure_message("web1", &plan, &exists),
            format!("fleetup-stage: cannot create {tmp}")
        );
        let mismatch = failed("fleetup-stage: sha256 mismatch on the host: got 00, expected ab\n");
        assert_eq!(
            failure_message("web1", &plan, &mismatch),
            "fleetup-stage: sha256 mismatch on the host: got 00, expected ab"
        );
    }

    /// The real script, where its temp file cannot be created (`/sys`, for any user): the
    /// shell's reason reaches stderr, and the message says what to fix.
    #[test]
    fn a_temp_file_that_cannot_be_created_is_said_with_its_cause() {
        let mut plan = plan_as("root");
        plan.probe.dir = "/sys".into();
        let tmp = "/sys/.app.fleetup-test";
        let cmd = stage_command(&HostSettings::for_binary("/sys/app"), &plan, tmp, 0);
        let out = std::process::Command::new(&cmd.argv[0])
            .args(&cmd.argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let out = CommandOutput {
            status: out.status.code().and_then(|c| u32::try_from(c).ok()),
            stdout: out.stdout,
            stderr: out.stderr,
            truncated: false,
        };
        assert_eq!(out.status, Some(1), "{}", out.stderr_text());
        let m = failure_message("web1", &plan, &out);
        assert!(
            m.starts_with("web1:/sys is not writable by root (fleetup-stage: ")
                && m.ends_with(&format!("cannot create {tmp}: Permission denied)")),
            "{m}"
        );
    }

    #[test]
    fn version_check() {
        assert!(check_version("app v1.3.0+build7\n", "1.3.0").is_ok());
        let e = check_version("app 1.2.0\n", "1.3.0").unwrap_err();
        assert_eq!(e, "the staged binary reports version 1.2.0, expected 1.3.0");
        assert!(check_version("Exec format error", "1.3.0").is_err());
    }
}
