//! Back up + swap (1 round trip). The current binary is backed up as a hard link beside it
//! (`<name>.fleetup-bak-<version>-<timestamp>`: same inode, so mode, owner and capabilities are
//! kept and nothing is copied), then the staged file is renamed over the real path (`mv -T`:
//! one `rename()`, there is never a moment without a binary, and the live file is never
//! written into: a running process keeps its old inode), then the directory is fsynced. Old
//! backups beyond `fleetup_backups` are deleted only after the new link exists.
//!
//! Before anything, the current file's identity (device, inode, size, mtime and ctime, to
//! the nanosecond) is compared with the probe's: a binary changed by someone else since the
//! probe is not replaced by a plan made for another file. (ctime cannot be set by a program,
//! and comparing it costs a `stat` where hashing the file again cost a full read.)

use super::settings::HostSettings;
use super::{Step, StepError, join, run_ok, script_command, split_path};
use crate::plan::Plan;
use crate::transport::{RemoteCommand, Transport};

/// `$1` real path, `$2` staged file, `$3` backup path, `$4` the probed identity of the real
/// path (`dev:ino:size:mtime:ctime`), `$5…` old backups to delete once the new one exists.
pub const SWAP_SCRIPT: &str = concat!(
    "set -u\n",
    r#"real=$1 tmp=$2 bak=$3 cur=$4; shift 4
fail() { rm -f -- "$tmp"; echo "fleetup-swap: $1" >&2; exit 1; }
now=$(stat -c '%d:%i:%s:%y:%z' -- "$real") || fail "cannot stat $real"
[ "$now" = "$cur" ] || fail "$real changed since the probe (now $now, probed $cur); nothing was swapped"
ln -- "$real" "$bak" || fail "cannot back up $real as $bak (hard link)"
mv -T -- "$tmp" "$real" || fail "cannot rename $tmp over $real"
dir=${real%/*}; [ -n "$dir" ] || dir=/
sync -- "$dir" || echo "fleetup-swap: warning: fsync of $dir failed" >&2
echo swapped
for old in "$@"; do rm -f -- "$old" || echo "fleetup-swap: warning: cannot remove old backup $old" >&2; done
exit 0
"#
);

/// The backup name of `name` at `version`, taken at `at`.
pub fn backup_name(name: &str, version: Option<&semver::Version>, at: jiff::Timestamp) -> String {
    let version = version.map_or_else(|| "unknown".to_owned(), ToString::to_string);
    format!(
        "{name}.fleetup-bak-{version}-{}.{:09}Z",
        at.strftime("%Y%m%dT%H%M%S"),
        at.subsec_nanosecond()
    )
}

/// The version and timestamp of a backup name of `name` (`None`: not one of ours).
pub fn parse_backup_name<'a>(name: &str, file: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = file.strip_prefix(name)?.strip_prefix(".fleetup-bak-")?;
    let (version, stamp) = rest.rsplit_once('-')?;
    let ok = stamp.len() > 16
        && stamp.ends_with('Z')
        && stamp.as_bytes()[8] == b'T'
        && stamp[..8].bytes().all(|b| b.is_ascii_digit());
    ok.then_some((version, stamp))
}

/// Backups of `name` among `files`, newest first.
pub fn newest_first(name: &str, files: &[String]) -> Vec<String> {
    let mut ours: Vec<(&str, &String)> = files
        .iter()
        .filter_map(|f| parse_backup_name(name, f).map(|(_, stamp)| (stamp, f)))
        .collect();
    ours.sort_by(|a, b| b.0.cmp(a.0));
    ours.into_iter().map(|(_, f)| f.clone()).collect()
}

/// Which of the `existing` backups to delete once a new one exists, keeping `keep` in all
/// (the new one included). Files not named like our backups are never touched.
pub fn backups_to_delete(name: &str, existing: &[String], keep: usize) -> Vec<String> {
    newest_first(name, existing)
        .into_iter()
        .skip(keep.saturating_sub(1))
        .collect()
}

/// The backup + swap command.
pub fn swap_command(
    settings: &HostSettings,
    plan: &Plan,
    staged: &str,
    backup: &str,
) -> RemoteCommand {
    let p = &plan.probe;
    let name = split_path(&p.real_path).1;
    let mut args = vec![
        p.real_path.clone(),
        staged.to_owned(),
        backup.to_owned(),
        p.identity.clone(),
    ];
    args.extend(
        backups_to_delete(name, &p.backups, settings.backups)
            .iter()
            .map(|f| join(&p.dir, f)),
    );
    script_command(
        SWAP_SCRIPT,
        "fleetup-swap",
        args,
        settings,
        settings.command_timeout,
    )
}

/// Backs up the current binary and renames the staged file over it. Returns the backup's
/// path. On failure the staged file is removed and the target is what it was.
pub async fn backup_and_swap<T: Transport>(
    t: &T,
    settings: &HostSettings,
    plan: &Plan,
    staged: &str,
) -> Result<String, StepError> {
    let name = split_path(&plan.probe.real_path).1;
    let backup = join(
        &plan.probe.dir,
        &backup_name(name, plan.probe.version.as_ref(), jiff::Timestamp::now()),
    );
    let cmd = swap_command(settings, plan, staged, &backup);
    match run_ok(t, Step::Swap, &cmd, None).await {
        Ok(out) if out.stdout_text().starts_with("swapped") => Ok(backup),
        Ok(out) => Err(StepError::from_output(
            t.host(),
            Step::Swap,
            &cmd,
            &out,
            "the swap script did not confirm the swap",
        )),
        Err(e) => {
            if e.status.is_none() {
                super::stage::cleanup(t, settings, staged).await;
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_sort_by_time_whatever_the_version() {
        let t1: jiff::Timestamp = "2024-01-02T03:04:05.000000007Z".parse().unwrap();
        let t2: jiff::Timestamp = "2024-01-02T03:04:06Z".parse().unwrap();
        let v = semver::Version::parse("1.10.0-rc.1").unwrap();
        let a = backup_name("app", Some(&v), t1);
        assert_eq!(a, "app.fleetup-bak-1.10.0-rc.1-20240102T030405.000000007Z");
        assert_eq!(
            parse_backup_name("app", &a),
            Some(("1.10.0-rc.1", "20240102T030405.000000007Z"))
        );
        let b = backup_name("app", None, t2);
        assert_eq!(b, "app.fleetup-bak-unknown-20240102T030406.000000000Z");
        let files = vec![
            a.clone(),
            "app.fleetup-bak-hand-made".to_owned(),
            b.clone(),
            "other.fleetup-bak-1.0.0-20250101T000000.000000000Z".to_owned(),
        ];
        assert_eq!(newest_first("app", &files), [b.clone(), a.clone()]);
        assert_eq!(backups_to_delete("app", &files, 3), Vec::<String>::new());
        assert_eq!(
            backups_to_delete("app", &files, 2),
            std::slice::from_ref(&a)
        );
        assert_eq!(backups_to_delete("app", &files, 1), [b, a]);
    }

    #[test]
    fn swap_command_arguments() {
        let s = HostSettings::for_binary("/srv/app");
        let probe = crate::steps::probe::parse_probe(
            "h",
            "/srv/app",
            "fleetup-probe 1\nos=Linux\narch=x86_64\nuser=root\nreal=/srv/app\n\
             stat=755 0 0 10 root root\nidentity=8:9:10:mtime:ctime\nsha256=\
             1111111111111111111111111111111111111111111111111111111111111111\nwritable=1\n\
             backup=app.fleetup-bak-1.0.0-20240101T000000.000000000Z\n\
             backup=app.fleetup-bak-1.1.0-20240201T000000.000000000Z\n\
             backup=app.fleetup-bak-1.2.0-20240301T000000.000000000Z\nend=1\n",
        )
        .unwrap();
        let a = crate::release::Artifact {
            os: "linux".into(),
            arch: "amd64".into(),
            url: "u".into(),
            size: 1,
            sha256: "2".repeat(64),
        };
        let plan = crate::plan::decide(&probe, &s, "1.3.0", &a, true);
        let c = swap_command(&s, &plan, "/srv/.app.fleetup-x", "/srv/app.fleetup-bak-new");
        assert_eq!(c.argv[..4], ["sh", "-c", SWAP_SCRIPT, "fleetup-swap"]);
        assert_eq!(
            c.argv[4..],
            [
                "/srv/app",
                "/srv/.app.fleetup-x",
                "/srv/app.fleetup-bak-new",
                "8:9:10:mtime:ctime",
                "/srv/app.fleetup-bak-1.0.0-20240101T000000.000000000Z",
            ]
        );
    }
}
