//! Rollback: put back the newest backup whose content differs from the current binary (the
//! version that ran before the last upgrade). The backup is hard-linked to a temp name which
//! is renamed over the real path, so the backup itself stays; then the directory is fsynced.
//! The backup's inode carries the mode, owner and capabilities it had. Then restart and health
//! check as after an upgrade.
//!
//! Cost: restore 1 round trip (+ restart 1, health 1). `fleetup rollback` ([`rollback`]) adds
//! the probe (1) and the lock (1 + unlock 1).

use super::health::restart_and_check;
use super::lock;
use super::probe::probe;
use super::settings::HostSettings;
use super::swap::{newest_first, parse_backup_name};
use super::{Step, StepError, join, random_suffix, run_ok, script_command, split_path};
use crate::transport::{RemoteCommand, Transport};

/// `$1` real path, `$2` temp link path, `$3…` backups, newest first. Restores the first whose
/// sha256 differs from the real path's and prints `restored=PATH`; exits 2 when none differs.
pub const ROLLBACK_SCRIPT: &str = concat!(
    "set -u\n",
    sha_fn!(),
    r#"real=$1 tmp=$2; shift 2
cur=$(sha < "$real") || { echo "fleetup-rollback: cannot read $real" >&2; exit 1; }
cur=${cur%% *}
for b in "$@"; do
  [ -f "$b" ] || continue
  s=$(sha < "$b") || continue
  [ "${s%% *}" = "$cur" ] && continue
  ln -- "$b" "$tmp" || { echo "fleetup-rollback: cannot link $b to $tmp" >&2; exit 1; }
  mv -T -- "$tmp" "$real" || { rm -f -- "$tmp"; echo "fleetup-rollback: cannot rename $tmp over $real" >&2; exit 1; }
  dir=${real%/*}; [ -n "$dir" ] || dir=/
  sync -- "$dir" || echo "fleetup-rollback: warning: fsync of $dir failed" >&2
  echo "restored=$b"
  exit 0
done
echo "fleetup-rollback: no backup of $real differs from it ($# backup(s) looked at)" >&2
exit 2
"#
);

/// What a rollback put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The backup now in place (it stays as a backup too).
    pub backup: String,
    /// The version in its name (`unknown` when it had none).
    pub version: String,
}

/// The restore command: `backups` are file names in `dir`, any order.
pub fn restore_command(
    settings: &HostSettings,
    real_path: &str,
    dir: &str,
    backups: &[String],
) -> RemoteCommand {
    let name = split_path(real_path).1;
    let tmp = join(dir, &format!(".{name}.fleetup-rb-{}", random_suffix()));
    let mut args = vec![real_path.to_owned(), tmp];
    args.extend(newest_first(name, backups).iter().map(|f| join(dir, f)));
    script_command(
        ROLLBACK_SCRIPT,
        "fleetup-rollback",
        args,
        settings,
        settings.command_timeout,
    )
}

/// Restores the newest differing backup (1 round trip), no restart.
pub async fn restore<T: Transport>(
    t: &T,
    settings: &HostSettings,
    real_path: &str,
    dir: &str,
    backups: &[String],
) -> Result<Restored, StepError> {
    let cmd = restore_command(settings, real_path, dir, backups);
    let out = run_ok(t, Step::Rollback, &cmd, None).await?;
    let stdout = out.stdout_text();
    let backup = stdout
        .lines()
        .find_map(|l| l.strip_prefix("restored="))
        .ok_or_else(|| {
            StepError::from_output(
                t.host(),
                Step::Rollback,
                &cmd,
                &out,
                "the rollback script did not say what it restored",
            )
        })?
        .to_owned();
    let name = split_path(real_path).1;
    let version = parse_backup_name(name, split_path(&backup).1)
        .map_or("unknown", |(v, _)| v)
        .to_owned();
    Ok(Restored { backup, version })
}

/// `fleetup rollback` on one host: probe, lock, restore the newest backup whose content
/// differs, restart and check health when configured, unlock.
pub async fn rollback<T: Transport>(
    t: &T,
    settings: &HostSettings,
    run_id: &str,
) -> Result<Restored, StepError> {
    let p = probe(t, settings).await?;
    if p.backups.is_empty() {
        return Err(StepError::new(
            t.host(),
            Step::Rollback,
            format!("no backup of {} in {} to roll back to", p.real_path, p.dir),
        ));
    }
    let name = split_path(&p.real_path).1;
    let held = lock::acquire(t, settings, &p.dir, name, run_id).await?;
    let result = async {
        let restored = restore(t, settings, &p.real_path, &p.dir, &p.backups).await?;
        restart_and_check(t, settings).await?;
        Ok(restored)
    }
    .await;
    if let Err(e) = lock::release(t, settings, &held).await {
        tracing::warn!(host = t.host(), "releasing the lock: {e}");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_command_lists_backups_newest_first() {
        let s = HostSettings::for_binary("/srv/app");
        let c = restore_command(
            &s,
            "/srv/app",
            "/srv",
            &[
                "app.fleetup-bak-1.0.0-20240101T000000.000000000Z".into(),
                "app.fleetup-bak-1.2.0-20240301T000000.000000000Z".into(),
                "junk".into(),
            ],
        );
        assert_eq!(
            c.argv[..4],
            ["sh", "-c", ROLLBACK_SCRIPT, "fleetup-rollback"]
        );
        assert_eq!(c.argv[4], "/srv/app");
        assert!(c.argv[5].starts_with("/srv/.app.fleetup-rb-"));
        assert_eq!(
            c.argv[6..],
            [
                "/srv/app.fleetup-bak-1.2.0-20240301T000000.000000000Z",
                "/srv/app.fleetup-bak-1.0.0-20240101T000000.000000000Z"
            ]
        );
    }
}
