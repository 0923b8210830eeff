//! Restart (1 round trip) and health check (1 round trip: the retries run on the host).
//!
//! Restart: `fleetup_restart_command` through `sh -c` (the user's command is one argv word,
//! the script), else `systemctl restart <fleetup_service>`; killed after
//! `fleetup_restart_timeout`. Health: `fleetup_health_url` with
//! `curl -fsSg --max-time N -o /dev/null --url URL`, or `fleetup_health_command` with `sh -c`,
//! tried once a second until it passes or `fleetup_health_timeout` seconds have gone by.

use std::time::Duration;

use super::settings::HostSettings;
use super::{Step, StepError, run_ok, script_command};
use crate::transport::{RemoteCommand, Transport};

/// `$1` total seconds, `$2` seconds per attempt, `$3…` the check's argv. Exits 0 at the first
/// success; else prints the last attempt's stderr and exits 1.
pub const HEALTH_SCRIPT: &str = r#"set -u
total=$1 per=$2; shift 2
if command -v timeout >/dev/null 2>&1; then set -- timeout -k 1 "$per" "$@"; fi
end=$(( $(date +%s) + total ))
n=0
while :; do
  n=$((n + 1))
  err=$("$@" 2>&1 >/dev/null </dev/null) && { echo "healthy after $n attempt(s)"; exit 0; }
  rc=$?
  if [ "$(date +%s)" -ge "$end" ]; then
    [ -n "$err" ] && printf '%s\n' "$err" >&2
    echo "fleetup-health: still failing after $n attempt(s) in $total s (last exit $rc)" >&2
    exit 1
  fi
  sleep 1
done
"#;

/// The restart command, when restarting is configured.
pub fn restart_command(settings: &HostSettings) -> Option<RemoteCommand> {
    if !settings.restart {
        return None;
    }
    let argv: Vec<String> = match (&settings.restart_command, &settings.service) {
        (Some(cmd), _) => vec!["sh".into(), "-c".into(), cmd.clone()],
        (None, Some(unit)) => vec!["systemctl".into(), "restart".into(), unit.clone()],
        (None, None) => return None,
    };
    let mut cmd = RemoteCommand::new(argv, settings.restart_timeout);
    cmd.become_user.clone_from(&settings.become_user);
    Some(cmd)
}

/// Seconds one health attempt may take.
pub fn attempt_secs(settings: &HostSettings) -> u64 {
    settings.health_timeout.as_secs().clamp(1, 10)
}

/// The health-check command, when one is configured (the URL wins over the command).
pub fn health_command(settings: &HostSettings) -> Option<RemoteCommand> {
    let per = attempt_secs(settings);
    let check: Vec<String> = match (&settings.health_url, &settings.health_command) {
        (Some(url), _) => vec![
            "curl".into(),
            // --globoff: `{}` and `[]` in the URL are literal, never curl's URL globbing.
            "-fsSg".into(),
            "--max-time".into(),
            per.to_string(),
            "-o".into(),
            "/dev/null".into(),
            "--url".into(),
            url.clone(),
        ],
        (None, Some(cmd)) => vec!["sh".into(), "-c".into(), cmd.clone()],
        (None, None) => return None,
    };
    let mut args = vec![
        settings.health_timeout.as_secs().to_string(),
        per.to_string(),
    ];
    args.extend(check);
    Some(script_command(
        HEALTH_SCRIPT,
        "fleetup-health",
        args,
        settings,
        settings.health_timeout + Duration::from_secs(per + 10),
    ))
}

/// Restarts the service when configured (no round trip otherwise).
pub async fn restart<T: Transport>(t: &T, settings: &HostSettings) -> Result<bool, StepError> {
    let Some(cmd) = restart_command(settings) else {
        return Ok(false);
    };
    run_ok(t, Step::Restart, &cmd, None).await.map(|_| true)
}

/// Checks health when configured (no round trip otherwise).
pub async fn check_health<T: Transport>(t: &T, settings: &HostSettings) -> Result<bool, StepError> {
    let Some(cmd) = health_command(settings) else {
        return Ok(false);
    };
    run_ok(t, Step::Health, &cmd, None).await.map(|_| true)
}

/// Restart then health, as after a swap or a rollback.
pub async fn restart_and_check<T: Transport>(
    t: &T,
    settings: &HostSettings,
) -> Result<(), StepError> {
    restart(t, settings).await?;
    check_health(t, settings).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_commands() {
        let mut s = HostSettings::for_binary("/a");
        assert_eq!(restart_command(&s), None);
        s.restart = true;
        s.service = Some("app.service".into());
        let c = restart_command(&s).unwrap();
        assert_eq!(c.argv, ["systemctl", "restart", "app.service"]);
        s.restart_command = Some("pkill -HUP app; echo 'done'".into());
        s.become_user = Some("root".into());
        let c = restart_command(&s).unwrap();
        assert_eq!(c.argv, ["sh", "-c", "pkill -HUP app; echo 'done'"]);
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.full_argv()[..2], ["sudo", "-n"]);
        s.restart = false;
        assert_eq!(restart_command(&s), None);
    }

    #[test]
    fn health_commands() {
        let mut s = HostSettings::for_binary("/a");
        assert_eq!(health_command(&s), None);
        s.health_command = Some("test -e /run/app.ok".into());
        s.health_timeout = Duration::from_secs(5);
        let c = health_command(&s).unwrap();
        assert_eq!(c.argv[..4], ["sh", "-c", HEALTH_SCRIPT, "fleetup-health"]);
        assert_eq!(c.argv[4..], ["5", "5", "sh", "-c", "test -e /run/app.ok"]);
        s.health_url = Some("http://127.0.0.1:80/health?a=1&b=$(x)".into());
        s.health_timeout = Duration::from_secs(30);
        let c = health_command(&s).unwrap();
        assert_eq!(
            c.argv[4..],
            [
                "30",
                "10",
                "curl",
                "-fsSg",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "--url",
                "http://127.0.0.1:80/health?a=1&b=$(x)"
            ]
        );
        assert_eq!(c.timeout, Duration::from_secs(50));
    }
}
