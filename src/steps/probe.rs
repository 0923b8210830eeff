//! Probe (read-only, one round trip): everything `check` reports and `decide` needs, from one
//! constant script run as the become user. It changes nothing on the host.

use std::time::Duration;

use super::settings::HostSettings;
use super::version::{first_semver, go_arch, go_os};
use super::{Step, StepError, run, script_command, split_path};
use crate::compress::Compression;
use crate::transport::{RemoteCommand, Transport};

/// Seconds the binary's version command may run during the probe (`timeout` on the host).
pub const VERSION_TIMEOUT_SECS: u64 = 10;

/// `$1` = the configured binary path, `$2` = seconds for the version command, `$3…` = the
/// version command's argv (`{binary}` already substituted). Output: `key=value` lines and
/// prefixed sections (`df| `, `getcap| `, `version| `), parsed by [`parse_probe`].
pub const PROBE_SCRIPT: &str = concat!(
    "set -u\n",
    sha_fn!(),
    r#"b=$1; vt=$2; hs=$3; shift 3
echo 'fleetup-probe 1'
echo "os=$(uname -s)"
echo "arch=$(uname -m)"
echo "user=$(id -un)"
nl='
'
real=$(realpath -e -- "$b" 2>&1) || { echo "error=resolve"; echo "detail=$real" | head -n 1; exit 0; }
case $real in *"$nl"*) echo 'error=newline'; exit 0 ;; esac
echo "real=$real"
if [ -d "$real" ]; then echo 'error=directory'; exit 0; fi
if [ ! -f "$real" ]; then echo 'error=notfile'; exit 0; fi
echo "stat=$(stat -c '%a %u %g %s %U %G' -- "$real")"
echo "identity=$(stat -c '%d:%i:%s:%y:%z' -- "$real")"
sz=$(stat -c %s -- "$real")
case " $hs " in
*" all "*|*" $sz "*)
  if sum=$(sha < "$real" 2>&1); then echo "sha256=${sum%% *}"; else echo "error=unreadable"; echo "detail=$sum"; exit 0; fi ;;
*)
  [ -r "$real" ] || { echo "error=unreadable"; echo "detail=permission denied"; exit 0; }
  echo 'sha256=-' ;;
esac
dir=${real%/*}; [ -n "$dir" ] || dir=/
base=${real##*/}
if [ -w "$dir" ]; then echo 'writable=1'; else echo 'writable=0'; fi
df -P -k -- "$dir" 2>&1 | sed 's/^/df| /'
echo
getcap -- "$real" 2>&1 | sed 's/^/getcap| /'
echo
for f in "$dir"/"$base".fleetup-bak-*; do case $f in *"$nl"*) continue ;; esac; [ -f "$f" ] && echo "backup=${f##*/}"; done
[ -e "$dir/.$base.fleetup.lock" ] && echo 'locked=1'
printf 'decompress='; for c in zstd gzip; do command -v "$c" >/dev/null 2>&1 && printf '%s ' "$c"; done; echo
own=$(stat -c %u -- "$real"); grp=$(stat -c %g -- "$real")
if [ "$(id -u)" = 0 ] && [ "$own" != 0 ]; then
  if command -v setpriv >/dev/null 2>&1; then set -- setpriv --reuid="$own" --regid="$grp" --clear-groups -- "$@"; echo "version_as=$own"; else echo 'version_as=root'; fi
fi
if command -v timeout >/dev/null 2>&1; then set -- timeout -k 2 "$vt" "$@"; fi
"$@" </dev/null 2>&1 | head -c 16384 | sed 's/^/version| /'
echo
echo 'end=1'
"#
);

/// What a host runs, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub host: String,
    /// Go names (`linux`, `amd64`, …).
    pub os: String,
    pub arch: String,
    /// Who the steps run as (the become user when set).
    pub user: String,
    /// `fleetup_binary` as configured.
    pub binary: String,
    /// Its real path (symlinks resolved): the file the swap replaces.
    pub real_path: String,
    /// The directory of `real_path`: the temp file, backups and lock live there.
    pub dir: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    /// Its sha256; empty when it was not hashed because its size is none of the artifacts'
    /// (so it cannot be one of them).
    pub sha256: String,
    /// `device:inode:size:mtime:ctime` (nanoseconds): the swap refuses a file whose identity
    /// changed since the probe (cheaper than hashing it again, and ctime cannot be forged).
    pub identity: String,
    /// The first semver the version command printed; `None` when it printed none (or the
    /// binary does not run).
    pub version: Option<semver::Version>,
    /// What the version command printed (for messages).
    pub version_output: String,
    /// Whether the binary carries `cap_net_bind_service`; `None` when `getcap` is missing.
    pub net_bind_cap: Option<bool>,
    /// Free bytes for the user in `dir`; `None` when `df` could not say.
    pub free_bytes: Option<u64>,
    pub dir_writable: bool,
    /// Backup file names in `dir` (`<name>.fleetup-bak-…`).
    pub backups: Vec<String>,
    /// Whether a lock file is present (another run, or a stale one).
    pub locked: bool,
    /// The decompressors the host has (for `fleetup_compress`).
    pub decompressors: Vec<Compression>,
}

/// The probe command for a host (one round trip).
/// `hash_sizes`: hash the binary only when its size is one of these (the sizes of the
/// artifacts it could be; `None`: always).
pub fn probe_command(settings: &HostSettings, hash_sizes: Option<&[u64]>) -> RemoteCommand {
    let sizes = hash_sizes.map_or_else(
        || "all".to_owned(),
        |s| {
            let words: Vec<String> = s.iter().map(ToString::to_string).collect();
            words.join(" ")
        },
    );
    let mut args = vec![
        settings.binary.clone(),
        VERSION_TIMEOUT_SECS.to_string(),
        sizes,
    ];
    args.extend(settings.version_argv(&settings.binary));
    script_command(
        PROBE_SCRIPT,
        "fleetup-probe",
        args,
        settings,
        settings.command_timeout + Duration::from_secs(VERSION_TIMEOUT_SECS),
    )
}

/// Probes the host (one round trip), hashing the binary.
pub async fn probe<T: Transport>(t: &T, settings: &HostSettings) -> Result<Probe, StepError> {
    probe_for(t, settings, None).await
}

/// Probes the host (one round trip), hashing the binary only when its size is one of
/// `hash_sizes` (`None`: always). Hashing tens of MiB on every host costs more than anything
/// else in a probe, and a file of another size cannot be one of the artifacts anyway.
pub async fn probe_for<T: Transport>(
    t: &T,
    settings: &HostSettings,
    hash_sizes: Option<&[u64]>,
) -> Result<Probe, StepError> {
    let cmd = probe_command(settings, hash_sizes);
    let out = run(t, Step::Probe, &cmd, None).await?;
    let stdout = out.stdout_text();
    if !stdout.starts_with("fleetup-probe 1\n") {
        let message = match &settings.become_user {
            Some(user) if out.stderr_text().contains("sudo") => {
                sudo_failure(t.host(), user, &out.stderr_text())
            }
            _ => format!("the probe did not run: {}", super::failure_reason(&out)),
        };
        return Err(StepError::from_output(
            t.host(),
            Step::Probe,
            &cmd,
            &out,
            message,
        ));
    }
    parse_probe(t.host(), &settings.binary, &stdout)
        .map_err(|m| StepError::from_output(t.host(), Step::Probe, &cmd, &out, m))
}

/// The message for a `sudo -n` that would not run the command.
pub fn sudo_failure(host: &str, user: &str, stderr: &str) -> String {
    let detail = stderr
        .lines()
        .find(|l| l.contains("sudo"))
        .unwrap_or(stderr)
        .trim();
    if detail.contains("password") {
        format!("sudo needs a password on {host}: {detail} (fleetup runs sudo -n)")
    } else {
        format!("sudo -n -u {user} does not work on {host}: {detail}")
    }
}

/// Parses the probe script's output.
pub fn parse_probe(host: &str, binary: &str, text: &str) -> Result<Probe, String> {
    let mut p = Probe {
        host: host.to_owned(),
        os: String::new(),
        arch: String::new(),
        user: String::new(),
        binary: binary.to_owned(),
        real_path: String::new(),
        dir: String::new(),
        mode: 0,
        uid: 0,
        gid: 0,
        owner: String::new(),
        group: String::new(),
        size: 0,
        sha256: String::new(),
        identity: String::new(),
        version: None,
        version_output: String::new(),
        net_bind_cap: None,
        free_bytes: None,
        dir_writable: false,
        backups: Vec::new(),
        locked: false,
        decompressors: Vec::new(),
    };
    let (mut error, mut detail, mut stat, mut ended) = (None, String::new(), None, false);
    let (mut df, mut getcap) = (Vec::new(), Vec::new());
    // Each key once: a file name with a newline in the binary's directory must not be able to
    // add a line of its own (a later `stat=` or `sha256=` would win).
    let mut seen: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("version| ") {
            p.version_output.push_str(v);
            p.version_output.push('\n');
        } else if let Some(v) = line.strip_prefix("df| ") {
            df.push(v);
        } else if let Some(v) = line.strip_prefix("getcap| ") {
            getcap.push(v);
        } else if let Some((k, v)) = line.split_once('=') {
            if k != "backup" {
                if seen.contains(&k) {
                    return Err(format!(
                        "the probe printed {k}= twice (a file name with a newline in {}?): its output cannot be trusted",
                        split_path(binary).0
                    ));
                }
                seen.push(k);
            }
            match k {
                "os" => p.os = go_os(v),
                "arch" => p.arch = go_arch(v),
                "user" => p.user = v.to_owned(),
                "real" => p.real_path = v.to_owned(),
                "stat" => stat = Some(v.to_owned()),
                "sha256" if v.trim() == "-" => p.sha256.clear(),
                "sha256" => p.sha256 = v.trim().to_ascii_lowercase(),
                "identity" => p.identity = v.trim().to_owned(),
                "writable" => p.dir_writable = v == "1",
                "backup" => p.backups.push(v.to_owned()),
                "locked" => p.locked = true,
                "decompress" => p.decompressors = Compression::parse_available(v),
                "error" => error = Some(v.to_owned()),
                "detail" => detail = v.trim().to_owned(),
                "end" => ended = true,
                _ => {}
            }
        }
    }
    if let Some(error) = error {
        return Err(match error.as_str() {
            "resolve" if detail.contains("Too many levels") => {
                format!("fleetup_binary {binary} on {host} is a symlink loop ({detail})")
            }
            "resolve" if detail.contains("No such file") => format!(
                "fleetup_binary {binary} cannot be resolved on {host}: it does not exist ({detail})"
            ),
            "resolve" => format!(
                "fleetup_binary {binary} cannot be resolved on {host} as {}: {detail}",
                p.user
            ),
            "directory" => format!(
                "fleetup_binary {binary} on {host} is a directory ({}), not a binary",
                p.real_path
            ),
            "notfile" => format!(
                "fleetup_binary {binary} ({}) on {host} is not a regular file",
                p.real_path
            ),
            "unreadable" => format!(
                "cannot read {} on {host} as {}: {detail}",
                p.real_path, p.user
            ),
            "newline" => {
                format!("fleetup_binary {binary} on {host} resolves to a path with a newline")
            }
            other => format!("probe error {other}: {detail}"),
        });
    }
    if !ended {
        return Err("the probe output is incomplete".into());
    }
    let stat = stat.ok_or("the probe printed no stat line")?;
    parse_stat(&stat, &mut p)?;
    let hashed = p.sha256.len() == 64 && p.sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !(hashed || p.sha256.is_empty()) {
        return Err(format!(
            "the sha256 of the binary came out as {:?}",
            p.sha256
        ));
    }
    if p.identity.matches(':').count() < 4 {
        return Err(format!(
            "the identity of the binary came out as {:?}",
            p.identity
        ));
    }
    p.dir = split_path(&p.real_path).0.to_owned();
    p.free_bytes = parse_df(&df);
    p.net_bind_cap = parse_getcap(&getcap);
    p.version = first_semver(&p.version_output);
    p.backups.sort();
    Ok(p)
}

/// `stat -c '%a %u %g %s %U %G'`.
fn parse_stat(line: &str, p: &mut Probe) -> Result<(), String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let bad = || format!("cannot read stat output {line:?}");
    if f.len() != 6 {
        return Err(bad());
    }
    p.mode = u32::from_str_radix(f[0], 8).map_err(|_| bad())?;
    p.uid = f[1].parse().map_err(|_| bad())?;
    p.gid = f[2].parse().map_err(|_| bad())?;
    p.size = f[3].parse().map_err(|_| bad())?;
    p.owner = f[4].to_owned();
    p.group = f[5].to_owned();
    Ok(())
}

/// `df -P -k DIR`: the "Available" column of the data line, in bytes.
pub fn parse_df(lines: &[&str]) -> Option<u64> {
    let header = lines.iter().position(|l| l.starts_with("Filesystem"))?;
    // A long device name may wrap the data line in old dfs; join what follows.
    let data: Vec<&str> = lines[header + 1..]
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect();
    // Filesystem 1024-blocks Used Available Capacity Mounted-on
    let kib: u64 = data.get(3)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `getcap FILE`: `FILE cap_net_bind_service=ep` (libcap ≥ 2.4x) or `FILE = cap_…+ep`;
/// nothing when the file has none; `None` when getcap itself is missing.
pub fn parse_getcap(lines: &[&str]) -> Option<bool> {
    if lines
        .iter()
        .any(|l| l.contains("not found") || l.contains("No such file"))
    {
        return None;
    }
    Some(lines.iter().any(|l| l.contains("cap_net_bind_service")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "fleetup-probe 1
os=Linux
arch=x86_64
user=root
real=/opt/app/bin/app-1.2.0
stat=750 65534 65534 1234 nobody nogroup
identity=2049:1234567:1234:2024-01-01 00:00:00.000000000 +0000:2024-01-01 00:00:00.000000000 +0000
sha256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855
writable=1
df| Filesystem     1024-blocks     Used Available Capacity Mounted on
df| /dev/sda1         10255636  5216000   4498932      54% /
getcap| /opt/app/bin/app-1.2.0 cap_net_bind_service=ep
backup=app-1.2.0.fleetup-bak-1.1.0-20240101T000000Z
locked=1
version| app version v1.2.0 (go1.22.1)

end=1
";

    /// A backup file named `x\nstat=6755 0 0 …` in the binary's directory would print a second
    /// `stat=` line (setuid root on the staged binary) or `sha256=` (a fake "unchanged"): any
    /// key but `backup` printed twice makes the whole output untrusted.
    #[test]
    fn a_key_printed_twice_is_refused() {
        let forged = OK.replace("locked=1\n", "locked=1\nstat=6755 0 0 1234 root root\n");
        let e = parse_probe("web1", "/opt/app/bin/app", &forged).unwrap_err();
        assert!(
            e.contains("stat= twice") && e.contains("/opt/app/bin"),
            "{e}"
        );
        let forged = OK.replace("writable=1\n", "writable=1\nsha256=00\n");
        assert!(parse_probe("web1", "/opt/app/bin/app", &forged).is_err());
        let two_backups = OK.replace(
            "locked=1\n",
            "backup=app-1.2.0.fleetup-bak-1.0.0-20230101T000000Z\nlocked=1\n",
        );
        let p = parse_probe("web1", "/opt/app/bin/app", &two_backups).unwrap();
        assert_eq!(p.backups.len(), 2);
        assert!(PROBE_SCRIPT.contains(r#"*"$nl"*) continue"#));
    }

    #[test]
    fn an_unhashed_binary_has_no_sha256_and_an_identity_is_required() {
        let skipped = OK.replace(
            "sha256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256=-",
        );
        let p = parse_probe("web1", "/usr/local/bin/app", &skipped).unwrap();
        assert_eq!(p.sha256, "");
        assert!(
            p.identity.starts_with("2049:1234567:1234:"),
            "{}",
            p.identity
        );
        let no_identity: String = OK
            .lines()
            .filter(|l| !l.starts_with("identity="))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = parse_probe("web1", "/usr/local/bin/app", &no_identity).unwrap_err();
        assert!(e.contains("identity"), "{e}");
    }

    #[test]
    fn parses_a_full_probe() {
        let p = parse_probe("web1", "/usr/local/bin/app", OK).unwrap();
        assert_eq!((p.os.as_str(), p.arch.as_str()), ("linux", "amd64"));
        assert_eq!(p.real_path, "/opt/app/bin/app-1.2.0");
        assert_eq!(p.dir, "/opt/app/bin");
        assert_eq!(p.binary, "/usr/local/bin/app");
        assert_eq!((p.mode, p.uid, p.gid, p.size), (0o750, 65534, 65534, 1234));
        assert_eq!((p.owner.as_str(), p.group.as_str()), ("nobody", "nogroup"));
        assert_eq!(&p.sha256[..8], "e3b0c442");
        assert_eq!(p.version, Some(semver::Version::new(1, 2, 0)));
        assert_eq!(p.net_bind_cap, Some(true));
        assert_eq!(p.free_bytes, Some(4_498_932 * 1024));
        assert!(p.dir_writable && p.locked);
        assert_eq!(p.backups.len(), 1);
    }

    #[test]
    fn a_binary_that_does_not_run_has_no_version() {
        let text = OK.replace(
            "version| app version v1.2.0 (go1.22.1)",
            "version| sh: 1: /opt/app: Exec format error",
        );
        let p = parse_probe("web1", "/a", &text).unwrap();
        assert_eq!(p.version, None);
        assert!(p.version_output.contains("Exec format error"));
    }

    #[test]
    fn getcap_formats() {
        assert_eq!(parse_getcap(&[]), Some(false));
        assert_eq!(parse_getcap(&["/x = cap_net_bind_service+ep"]), Some(true));
        assert_eq!(parse_getcap(&["/x cap_net_raw=ep"]), Some(false));
        assert_eq!(parse_getcap(&["sh: 1: getcap: not found"]), None);
    }

    #[test]
    fn df_output() {
        assert_eq!(
            parse_df(&[
                "Filesystem 1024-blocks Used Available Capacity Mounted on",
                "tmpfs 1024 0 1024 0% /tmp/x"
            ]),
            Some(1024 * 1024)
        );
        assert_eq!(parse_df(&["df: /x: No such file or directory"]), None);
    }

    #[test]
    fn missing_directory_loop_unreadable() {
        let head = "fleetup-probe 1\nos=Linux\narch=aarch64\nuser=root\n";
        let e = parse_probe(
            "h",
            "/a/b",
            &format!("{head}error=resolve\ndetail=realpath: /a/b: No such file or directory\n"),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "fleetup_binary /a/b cannot be resolved on h: it does not exist \
             (realpath: /a/b: No such file or directory)"
        );
        let e = parse_probe(
            "h",
            "/a/b",
            &format!("{head}error=resolve\ndetail=realpath: /a/b: Permission denied\n"),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "fleetup_binary /a/b cannot be resolved on h as root: realpath: /a/b: Permission denied"
        );
        let e = parse_probe(
            "h",
            "/a/b",
            &format!(
                "{head}error=resolve\ndetail=realpath: /a/b: Too many levels of symbolic links\n"
            ),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "fleetup_binary /a/b on h is a symlink loop \
             (realpath: /a/b: Too many levels of symbolic links)"
        );
        let e =
            parse_probe("h", "/a/b", &format!("{head}real=/a/b\nerror=directory\n")).unwrap_err();
        assert_eq!(
            e,
            "fleetup_binary /a/b on h is a directory (/a/b), not a binary"
        );
        let e = parse_probe(
            "h",
            "/a/b",
            &format!("{head}real=/c/d\nerror=unreadable\ndetail=permission denied\n"),
        )
        .unwrap_err();
        assert_eq!(e, "cannot read /c/d on h as root: permission denied");
        let e = parse_probe("h", "/a/b", head).unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
    }

    #[test]
    fn sudo_messages() {
        let m = sudo_failure("web1", "root", "sudo: a password is required\n");
        assert_eq!(
            m,
            "sudo needs a password on web1: sudo: a password is required (fleetup runs sudo -n)"
        );
        let m = sudo_failure("web1", "root", "bob is not in the sudoers file.\nsudo: x\n");
        assert!(
            m.starts_with("sudo -n -u root does not work on web1"),
            "{m}"
        );
    }

    #[test]
    fn probe_command_is_a_constant_script_with_parameters() {
        let s = HostSettings::for_binary("/opt/my app/$(x)");
        let c = probe_command(&s, None);
        assert_eq!(c.argv[..3], ["sh", "-c", PROBE_SCRIPT]);
        assert_eq!(
            c.argv[3..],
            [
                "fleetup-probe",
                "/opt/my app/$(x)",
                "10",
                "all",
                "/opt/my app/$(x)",
                "--version"
            ]
        );
        assert_eq!(c.become_user, None);
    }
}
