//! The steps on a host, for real, through the local transport: files, hard links, renames,
//! chown, setcap, sudo, tmpfs. Run as root (they create users, chown to `nobody`, mount a
//! tmpfs). Each test works in its own directory under `target/steps-local/`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, sha256_hex};
use bytes::Bytes;
use fleetup::plan::{Action, decide};
use fleetup::release::Artifact;
use fleetup::steps::lock::LockOwner;
use fleetup::steps::{HostSettings, Outcome, Step, probe, probe_for, rollback, upgrade};
use fleetup::transport::local::LocalTransport;
use fleetup::transport::{CommandOutput, RemoteCommand, Transport, TransportError};

const HOST: &str = "localhost-test";

fn require_root() {
    let out = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "tests/steps_local.rs needs root (chown, setcap, useradd, mount)"
    );
}

/// A fresh directory under `target/steps-local/`, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        require_root();
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/steps-local");
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }
    /// File names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A shell-script "binary": `--version` prints its version, `serve` keeps running.
fn script(version: &str) -> Vec<u8> {
    format!(
        "#!/bin/sh\n# demo service\ncase \"${{1:-}}\" in\n  --version) echo \"demo version {version} (built by tests)\" ;;\n  serve) while :; do sleep 1; done ;;\nesac\n"
    )
    .into_bytes()
}

fn write_exec(path: &Path, content: &[u8], mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A release artifact of `content` for this machine, and its bytes.
fn artifact(content: &[u8]) -> (Artifact, Bytes) {
    (support::artifact(content), Bytes::copy_from_slice(content))
}

fn sh(args: &[&str]) -> std::process::Output {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn getcap(path: &Path) -> String {
    String::from_utf8_lossy(&sh(&["getcap", path.to_str().unwrap()]).stdout).into_owned()
}

fn quote(s: &str) -> String {
    shlex::try_quote(s).unwrap().into_owned()
}

/// Probes, decides for `content` at `version`, and executes the plan.
async fn run_upgrade(
    t: &impl Transport,
    settings: &HostSettings,
    content: &[u8],
    version: &str,
) -> Result<Outcome, fleetup::steps::StepError> {
    let p = probe(t, settings).await?;
    let (a, bytes) = artifact(content);
    let plan = decide(&p, settings, version, &a, false);
    assert_eq!(plan.action, Action::Upgrade, "{}", plan.reason());
    upgrade(t, settings, &plan, bytes, "test-run").await
}

#[tokio::test]
async fn probe_reads_real_binaries() {
    let d = Dir::new("probe");
    let t = LocalTransport::new(HOST);
    // A real ELF: sha256, mode, size; `true --version` prints no x.y.z.
    let elf = std::fs::read("/bin/true").unwrap();
    write_exec(&d.path("true"), &elf, 0o751);
    let p = probe(&t, &HostSettings::for_binary(&d.s("true")))
        .await
        .unwrap();
    assert_eq!(p.sha256, sha256_hex(&elf));
    assert_eq!((p.mode, p.size, p.uid), (0o751, elf.len() as u64, 0));
    assert_eq!(p.os, "linux");
    assert_eq!(p.real_path, d.s("true"));
    assert_eq!(p.dir, d.0.to_str().unwrap());
    assert_eq!(p.version, None, "{}", p.version_output);
    assert_eq!(p.net_bind_cap, Some(false));
    assert!(p.dir_writable && p.free_bytes.unwrap() > 1 << 20);

    // The script binary reports its version; through a symlink the real file is probed.
    write_exec(&d.path("app-1.0.0"), &script("1.0.0"), 0o755);
    std::os::unix::fs::symlink(d.path("app-1.0.0"), d.path("app")).unwrap();
    let p = probe(&t, &HostSettings::for_binary(&d.s("app")))
        .await
        .unwrap();
    assert_eq!(p.version.unwrap().to_string(), "1.0.0");
    assert_eq!(p.real_path, d.s("app-1.0.0"));
    assert_eq!(p.binary, d.s("app"));

    // A custom version command: `{binary}` is one word, whatever the path holds.
    let odd = d.s("my app $(touch pwned)");
    write_exec(Path::new(&odd), &script("2.5.1"), 0o755);
    let mut s = HostSettings::for_binary(&odd);
    s.version_command = vec![
        "sh".into(),
        "-c".into(),
        "\"$1\" --version".into(),
        "x".into(),
        "{binary}".into(),
    ];
    let p = probe(&t, &s).await.unwrap();
    assert_eq!(p.version.unwrap().to_string(), "2.5.1");
    assert!(!d.path("pwned").exists());

    // A file that does not run: version unknown, not a failure.
    write_exec(&d.path("garbage"), b"\x7fELF garbage", 0o755);
    let p = probe(&t, &HostSettings::for_binary(&d.s("garbage")))
        .await
        .unwrap();
    assert_eq!(p.version, None);

    // Missing, a directory, a symlink loop: clear errors.
    for (path, needle) in [
        (d.s("missing"), "cannot be resolved"),
        (d.0.to_str().unwrap().to_owned(), "is a directory"),
    ] {
        let e = probe(&t, &HostSettings::for_binary(&path))
            .await
            .unwrap_err();
        assert_eq!(e.step, Step::Probe);
        assert!(e.message.contains(needle), "{e}");
    }
    std::os::unix::fs::symlink(d.path("loop-b"), d.path("loop-a")).unwrap();
    std::os::unix::fs::symlink(d.path("loop-a"), d.path("loop-b")).unwrap();
    let e = probe(&t, &HostSettings::for_binary(&d.s("loop-a")))
        .await
        .unwrap_err();
    assert!(e.message.contains("symlink loop"), "{e}");
}

#[tokio::test]
async fn full_upgrade_keeps_owner_mode_caps_and_backs_up_as_hard_link() {
    let d = Dir::new("full");
    let t = LocalTransport::new(HOST);
    let bin = d.path("app");
    write_exec(&bin, &script("1.0.0"), 0o750);
    sh(&["chown", "nobody:nogroup", bin.to_str().unwrap()]);
    sh(&["setcap", "cap_net_bind_service=+ep", bin.to_str().unwrap()]);
    let old = std::fs::metadata(&bin).unwrap();
    let settings = HostSettings::for_binary(&d.s("app"));

    let p = probe(&t, &settings).await.unwrap();
    assert_eq!(p.net_bind_cap, Some(true));
    assert_eq!((p.owner.as_str(), p.group.as_str()), ("nobody", "nogroup"));
    let new = script("1.1.0");
    let (a, bytes) = artifact(&new);
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    assert_eq!(plan.action, Action::Upgrade);
    assert!(plan.setcap, "auto: the old binary had the capability");
    let outcome = upgrade(&t, &settings, &plan, bytes, "run-1").await.unwrap();
    let Outcome::Upgraded { backup, from, to } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (from.as_ref().unwrap().to_string(), to.as_str()),
        ("1.0.0".into(), "1.1.0")
    );

    // New content, new inode, owner/group/mode copied, capability re-applied.
    assert_eq!(std::fs::read(&bin).unwrap(), new);
    let now = std::fs::metadata(&bin).unwrap();
    assert_ne!(now.ino(), old.ino());
    assert_eq!((now.uid(), now.gid()), (old.uid(), old.gid()));
    assert_eq!(now.mode() & 0o7777, 0o750);
    assert!(
        getcap(&bin).contains("cap_net_bind_service"),
        "{}",
        getcap(&bin)
    );

    // The backup is the old inode itself (hard link), named with the old version.
    let b = std::fs::metadata(backup).unwrap();
    assert_eq!(b.ino(), old.ino());
    assert_eq!(b.nlink(), 1, "the old name now points at the new inode");
    assert_eq!(std::fs::read(backup).unwrap(), script("1.0.0"));
    assert!(getcap(Path::new(backup)).contains("cap_net_bind_service"));
    assert!(backup.contains("app.fleetup-bak-1.0.0-"), "{backup}");

    // Nothing else left: no temp file, no lock.
    let names = d.names();
    assert_eq!(names.len(), 2, "{names:?}");

    // Re-run: same sha256, nothing to send.
    let p = probe(&t, &settings).await.unwrap();
    assert_eq!(p.version.as_ref().unwrap().to_string(), "1.1.0");
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    assert_eq!(plan.action, Action::None);
    let outcome = upgrade(&t, &settings, &plan, Bytes::new(), "run-2")
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);

    // Only `fleetup_backups` backups are kept.
    let mut settings = settings;
    settings.backups = 2;
    for v in ["1.2.0", "1.3.0", "1.4.0"] {
        run_upgrade(&t, &settings, &script(v), v).await.unwrap();
    }
    let backups: Vec<String> = d
        .names()
        .into_iter()
        .filter(|n| n.starts_with("app.fleetup-bak-"))
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert!(backups.iter().any(|b| b.contains("-1.3.0-")), "{backups:?}");
    assert!(backups.iter().any(|b| b.contains("-1.2.0-")), "{backups:?}");
}

#[tokio::test]
async fn symlinked_binary_keeps_its_link() {
    let d = Dir::new("symlink");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app-real"), &script("1.0.0"), 0o755);
    std::os::unix::fs::symlink("app-real", d.path("app")).unwrap();
    let settings = HostSettings::for_binary(&d.s("app"));
    run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    let link = std::fs::symlink_metadata(d.path("app")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(d.path("app")).unwrap(),
        Path::new("app-real")
    );
    assert_eq!(std::fs::read(d.path("app-real")).unwrap(), script("1.1.0"));
    assert!(
        d.names()
            .iter()
            .any(|n| n.starts_with("app-real.fleetup-bak-1.0.0-"))
    );
}

#[tokio::test]
async fn running_binary_keeps_running_through_the_swap() {
    let d = Dir::new("running");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let mut child = Command::new(d.path("app")).arg("serve").spawn().unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(200));
    let settings = HostSettings::for_binary(&d.s("app"));
    run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(child.try_wait().unwrap().is_none(), "the old process died");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.1.0"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn tampered_artifact_fails_and_leaves_the_target_untouched() {
    let d = Dir::new("tampered");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));
    let p = probe(&t, &settings).await.unwrap();
    let good = script("1.1.0");
    let (a, _) = artifact(&good);
    let mut evil = good.clone();
    evil[12] ^= 1;
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    let e = upgrade(&t, &settings, &plan, Bytes::from(evil), "run-t")
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Stage);
    assert!(e.stderr.contains("sha256 mismatch on the host"), "{e}");
    assert_eq!(e.status, Some(1));
    assert!(e.argv.iter().any(|w| w == "fleetup-stage"));
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
    assert_eq!(d.names(), ["app"], "temp file or lock left");

    // Too many bytes: refused by the cap, same cleanliness.
    let mut longer = good.clone();
    longer.extend_from_slice(b"extra");
    let e = upgrade(&t, &settings, &plan, Bytes::from(longer), "run-t")
        .await
        .unwrap_err();
    assert!(e.stderr.contains("more than the expected"), "{e}");
    assert_eq!(d.names(), ["app"]);

    // A staged binary that reports another version is not swapped in.
    let liar = script("1.0.9");
    let (a, bytes) = artifact(&liar);
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    let e = upgrade(&t, &settings, &plan, bytes, "run-t")
        .await
        .unwrap_err();
    assert!(
        e.message.contains("reports version 1.0.9, expected 1.1.0"),
        "{e}"
    );
    assert_eq!(d.names(), ["app"]);
}

#[tokio::test]
async fn not_enough_space_is_blocked_before_sending() {
    let d = Dir::new("tmpfs");
    sh(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=1m",
        "tmpfs",
        d.0.to_str().unwrap(),
    ]);
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));
    let p = probe(&t, &settings).await.unwrap();
    let mut big = script("1.1.0");
    big.resize(2 << 20, b'#');
    let (a, bytes) = artifact(&big);
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    let want = format!("no space on {HOST}:{}: ", d.0.to_str().unwrap());
    match &plan.action {
        Action::Blocked { reason } => {
            assert!(reason.starts_with(&want), "{reason}");
            assert!(reason.ends_with("MiB free, 3.0 MiB needed"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let e = upgrade(&t, &settings, &plan, bytes, "run-s")
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Decide);
    assert!(e.argv.is_empty(), "nothing was run");
    assert_eq!(d.names(), ["app"]);
}

/// Settings with a restart command logging to `restarts.log` and a health check that only
/// passes for version 1.0.0.
fn settings_healthy_only_at_1_0_0(d: &Dir) -> HostSettings {
    let mut s = HostSettings::for_binary(&d.s("app"));
    s.restart = true;
    s.restart_command = Some(format!("echo restarted >> {}", quote(&d.s("restarts.log"))));
    s.health_command = Some(format!(
        "{} --version | grep -q 'version 1.0.0 '",
        quote(&d.s("app"))
    ));
    s.health_timeout = Duration::from_secs(2);
    s
}

#[tokio::test]
async fn failed_health_check_rolls_back() {
    let d = Dir::new("health");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = settings_healthy_only_at_1_0_0(&d);
    let started = Instant::now();
    let outcome = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    let Outcome::RolledBack {
        cause,
        restored,
        after,
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(outcome.result_name(), "rolled_back");
    assert_eq!(cause.step, Step::Health);
    assert!(cause.stderr.contains("still failing after"), "{cause}");
    assert_eq!(restored.version, "1.0.0");
    assert_eq!(after, &None, "healthy again after the rollback");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
    let log = std::fs::read_to_string(d.path("restarts.log")).unwrap();
    assert_eq!(
        log.lines().count(),
        2,
        "restarted after the swap and after the rollback"
    );
    // The backup used stays a backup.
    assert!(Path::new(&restored.backup).exists());
    assert!(
        !d.names()
            .iter()
            .any(|n| n.contains(".fleetup-rb-") || n.contains(".lock"))
    );
}

#[tokio::test]
async fn hung_restart_is_killed_and_rolled_back() {
    let d = Dir::new("hung");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let mut settings = HostSettings::for_binary(&d.s("app"));
    settings.restart = true;
    settings.restart_command = Some(format!(
        "{} --version | grep -q 'version 1.0.0 ' || sleep 60",
        quote(&d.s("app"))
    ));
    settings.restart_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let outcome = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    let Outcome::RolledBack { cause, after, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(cause.step, Step::Restart);
    assert!(
        cause.message.contains("did not finish within 1 s"),
        "{cause}"
    );
    assert_eq!(after, &None);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
}

#[tokio::test]
async fn rollback_on_demand_restores_the_previous_version() {
    let d = Dir::new("rollback");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));
    let e = rollback(&t, &settings, "rb").await.unwrap_err();
    assert!(e.message.contains("no backup"), "{e}");
    run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    run_upgrade(&t, &settings, &script("1.2.0"), "1.2.0")
        .await
        .unwrap();
    let restored = rollback(&t, &settings, "rb").await.unwrap();
    assert_eq!(restored.version, "1.1.0");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.1.0"));
    assert_eq!(
        std::fs::metadata(d.path("app")).unwrap().ino(),
        std::fs::metadata(&restored.backup).unwrap().ino(),
        "the backup is put back by a link: it stays a backup"
    );
    // Again: the newest backup whose content differs from 1.1.0 is 1.0.0.
    let restored = rollback(&t, &settings, "rb").await.unwrap();
    assert_eq!(restored.version, "1.0.0");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
}

#[tokio::test]
async fn live_lock_refuses_stale_lock_is_cleared() {
    let d = Dir::new("lock");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));
    let lock = d.path(".app.fleetup.lock");

    // Held by a live run (this very process).
    let live = LockOwner::current("other-run").render();
    std::fs::write(&lock, &live).unwrap();
    let e = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Lock);
    assert!(
        e.message.starts_with(&format!(
            "{HOST} is being upgraded by another fleetup run (run other-run"
        )),
        "{e}"
    );
    assert!(e.message.contains("try again later"), "{e}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap().trim(), live);
    // Even when old: its process is alive.
    sh(&["touch", "-d", "2 hours ago", lock.to_str().unwrap()]);
    assert!(
        run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
            .await
            .is_err()
    );

    // A dead run's lock, young, written without the `machine` line (an older fleetup): still
    // refused, only its age can tell. (With it, a run of this very controller that is gone is
    // cleared at once: tests/faults_kill.rs.)
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = LockOwner {
        pid: dead_pid,
        pid_start: Some(1),
        machine: String::new(),
        ..LockOwner::current("dead-run")
    }
    .render();
    std::fs::write(&lock, &stale).unwrap();
    let e = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap_err();
    assert!(e.message.contains("dead-run"), "{e}");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));

    // Old and dead: cleared, the upgrade goes on, and our lock is released.
    sh(&["touch", "-d", "2 hours ago", lock.to_str().unwrap()]);
    let outcome = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    assert_eq!(outcome.result_name(), "upgraded");
    assert!(!lock.exists());
    assert!(
        !d.names().iter().any(|n| n.contains("lock")),
        "{:?}",
        d.names()
    );
}

/// Runs every command as `user` (as an SSH login as that user would), so that `sudo -n`
/// is exercised for a non-root user.
struct AsUser {
    inner: LocalTransport,
    user: String,
}

impl Transport for AsUser {
    fn host(&self) -> &str {
        self.inner.host()
    }
    async fn exec(
        &self,
        cmd: &RemoteCommand,
        stdin: Option<Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        let mut argv = vec![
            "runuser".into(),
            "-u".into(),
            self.user.clone(),
            "--".into(),
        ];
        argv.extend(cmd.full_argv());
        let wrapped = RemoteCommand::new(argv, cmd.timeout);
        self.inner.exec(&wrapped, stdin).await
    }
}

fn ensure_user(name: &str) {
    if !Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success()
    {
        sh(&["useradd", "-M", "-s", "/bin/sh", name]);
    }
}

#[tokio::test]
async fn become_through_sudo_for_a_non_root_user() {
    let d = Dir::new("become");
    ensure_user("fleetup-nopw");
    let sudoers = Path::new("/etc/sudoers.d/fleetup-test-nopw");
    std::fs::write(sudoers, "fleetup-nopw ALL=(ALL) NOPASSWD: ALL\n").unwrap();
    std::fs::set_permissions(sudoers, std::fs::Permissions::from_mode(0o440)).unwrap();
    let t = AsUser {
        inner: LocalTransport::new(HOST),
        user: "fleetup-nopw".into(),
    };
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let mut settings = HostSettings::for_binary(&d.s("app"));
    settings.become_user = Some("root".into());
    let p = probe(&t, &settings).await.unwrap();
    assert_eq!(p.user, "root");
    let outcome = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0").await;
    let _ = std::fs::remove_file(sudoers);
    assert_eq!(outcome.unwrap().result_name(), "upgraded");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.1.0"));
    assert_eq!(std::fs::metadata(d.path("app")).unwrap().uid(), 0);

    // Without become, the same user cannot even read into the root-only directory.
    settings.become_user = None;
    std::fs::set_permissions(&d.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(probe(&t, &settings).await.is_err());
}

#[tokio::test]
async fn sudo_that_wants_a_password_fails_fast() {
    let d = Dir::new("sudo-pw");
    ensure_user("fleetup-pw");
    // Allowed to sudo, but only with a password.
    let sudoers = Path::new("/etc/sudoers.d/fleetup-test-pw");
    std::fs::write(sudoers, "fleetup-pw ALL=(ALL) ALL\n").unwrap();
    std::fs::set_permissions(sudoers, std::fs::Permissions::from_mode(0o440)).unwrap();
    let t = AsUser {
        inner: LocalTransport::new(HOST),
        user: "fleetup-pw".into(),
    };
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let mut settings = HostSettings::for_binary(&d.s("app"));
    settings.become_user = Some("root".into());
    let started = Instant::now();
    let e = probe(&t, &settings).await;
    let _ = std::fs::remove_file(sudoers);
    let e = e.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "sudo hung");
    assert_eq!(e.step, Step::Probe);
    assert!(
        e.message
            .starts_with(&format!("sudo needs a password on {HOST}: ")),
        "{e}"
    );
    assert!(e.message.ends_with("(fleetup runs sudo -n)"), "{e}");
    assert_eq!(e.argv[..5], ["sudo", "-n", "-u", "root", "--"]);
    assert!(e.stderr.contains("password"), "{e}");
}

#[tokio::test]
async fn health_url_failure_is_reported_with_curl_stderr() {
    let d = Dir::new("health-url");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let mut settings = HostSettings::for_binary(&d.s("app"));
    // Nothing listens on port 1: every attempt fails, before and after the rollback.
    settings.health_url = Some("http://127.0.0.1:1/health".into());
    settings.health_timeout = Duration::from_secs(1);
    let outcome = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap();
    let Outcome::RolledBack { cause, after, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(cause.step, Step::Health);
    assert!(cause.stderr.contains("curl: (7)"), "{cause}");
    assert!(cause.argv.iter().any(|w| w == "http://127.0.0.1:1/health"));
    assert_eq!(after.as_ref().map(|e| e.step), Some(Step::Health));
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
}

/// The probe hashes the binary only when its size could be an artifact's; the swap refuses a
/// binary whose identity (inode, size, times) changed since the probe, even with the same
/// bytes, and leaves no staged file behind.
#[tokio::test]
async fn a_binary_changed_after_the_probe_is_not_swapped() {
    let d = Dir::new("changed-after-probe");
    let t = LocalTransport::new(HOST);
    let old = script("1.0.0");
    write_exec(&d.path("app"), &old, 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));

    let other_size = old.len() as u64 + 1;
    let p = probe_for(&t, &settings, Some(&[other_size])).await.unwrap();
    assert_eq!(p.sha256, "", "a size no artifact has: not hashed");
    let p = probe_for(&t, &settings, Some(&[old.len() as u64]))
        .await
        .unwrap();
    assert_eq!(
        p.sha256,
        sha256_hex(&old),
        "the size of an artifact: hashed"
    );
    assert!(p.identity.contains(':'), "{}", p.identity);

    let new = script("1.1.0");
    let (a, bytes) = artifact(&new);
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    assert_eq!(plan.action, Action::Upgrade, "{}", plan.reason());
    // Someone rewrites the binary between the probe and the swap (same bytes, new inode).
    std::fs::remove_file(d.path("app")).unwrap();
    write_exec(&d.path("app"), &old, 0o755);
    let e = upgrade(&t, &settings, &plan, bytes, "run-c")
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Swap, "{e}");
    assert!(e.stderr.contains("changed since the probe"), "{e}");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), old);
    assert_eq!(d.names(), ["app"], "staged file, backup or lock left");
}

/// The installed binary is run (for its version) as its owner, not as root: whoever can write
/// a binary they own must not get root from the next `fleetup check`.
#[tokio::test]
async fn the_installed_binary_runs_as_its_owner_not_as_root() {
    let d = Dir::new("owner");
    let t = LocalTransport::new(HOST);
    let app = d.path("app");
    write_exec(
        &app,
        b"#!/bin/sh\necho \"demo 1.0.0 uid=$(id -u) gid=$(id -g) groups=$(id -G)\"\n",
        0o755,
    );
    sh(&["chown", "65534:65534", app.to_str().unwrap()]);
    let p = probe(&t, &HostSettings::for_binary(&d.s("app")))
        .await
        .unwrap();
    assert_eq!(
        p.version_output.trim(),
        "demo 1.0.0 uid=65534 gid=65534 groups=65534",
        "{p:?}"
    );
    // A root-owned binary keeps running as root (nothing to drop).
    sh(&["chown", "0:0", app.to_str().unwrap()]);
    let p = probe(&t, &HostSettings::for_binary(&d.s("app")))
        .await
        .unwrap();
    assert!(p.version_output.starts_with("demo 1.0.0 uid=0 "), "{p:?}");
}

/// A run killed between its swap and its restart leaves the new binary in place, its lock, and
/// the service still running the old binary. The next run finds the host at the target with a
/// dead run's lock: it must do the restart and health check that run did not get to — and
/// leave a host whose lock is a live run's alone.
#[tokio::test]
async fn a_dead_runs_swap_gets_its_restart_from_the_next_run() {
    let d = Dir::new("resume");
    let t = LocalTransport::new(HOST);
    let new = script("1.1.0");
    write_exec(&d.path("app"), &new, 0o755);
    // The dead run's backup of 1.0.0, as its swap left it.
    write_exec(
        &d.path("app.fleetup-bak-1.0.0-20260101T000000.000000000Z"),
        &script("1.0.0"),
        0o755,
    );
    let restarts = d.path("restarts");
    let mut settings = HostSettings::for_binary(&d.s("app"));
    settings.restart_command = Some(format!("echo restarted >> {}", quote(&d.s("restarts"))));
    settings.restart = true;
    settings.health_command = Some(format!("{} --version | grep -q 1.1.0", quote(&d.s("app"))));
    let lock = d.path(".app.fleetup.lock");
    let (a, bytes) = artifact(&new);

    // A live run holds the lock: not this run's business.
    let live = LockOwner::current("live-run").render();
    std::fs::write(&lock, &live).unwrap();
    let p = probe(&t, &settings).await.unwrap();
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    assert_eq!(plan.action, Action::None);
    let out = upgrade(&t, &settings, &plan, bytes.clone(), "next-run")
        .await
        .unwrap();
    assert_eq!(out, Outcome::Unchanged);
    assert!(!restarts.exists(), "a live run's host was restarted");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), live);

    // The same lock, its run gone (on this controller): restarted and checked, lock released.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let dead = LockOwner {
        pid: gone_pid,
        ..LockOwner::current("dead-run")
    };
    std::fs::write(&lock, dead.render()).unwrap();
    let p = probe(&t, &settings).await.unwrap();
    assert!(p.locked);
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    assert_eq!(plan.action, Action::None);
    let out = upgrade(&t, &settings, &plan, bytes.clone(), "next-run")
        .await
        .unwrap();
    assert!(
        matches!(&out, Outcome::Upgraded { backup, .. } if backup.ends_with("app.fleetup-bak-1.0.0-20260101T000000.000000000Z")),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&restarts).unwrap(), "restarted\n");
    assert!(!lock.exists(), "the lock was not given back");

    // Without a lock, a host at the target is simply unchanged (no restart).
    let p = probe(&t, &settings).await.unwrap();
    let plan = decide(&p, &settings, "1.1.0", &a, false);
    let out = upgrade(&t, &settings, &plan, bytes, "third-run")
        .await
        .unwrap();
    assert_eq!(out, Outcome::Unchanged);
    assert_eq!(std::fs::read_to_string(&restarts).unwrap(), "restarted\n");
}

/// When the lock cannot be created for another reason than a holder (here a dangling symlink
/// at the lock's path; on a full tmpfs, no inode left), the error says why, not "held by
/// another run".
#[tokio::test]
async fn a_lock_that_cannot_be_created_says_why() {
    let d = Dir::new("lockfail");
    let t = LocalTransport::new(HOST);
    write_exec(&d.path("app"), &script("1.0.0"), 0o755);
    let settings = HostSettings::for_binary(&d.s("app"));
    std::os::unix::fs::symlink(d.path("nowhere"), d.path(".app.fleetup.lock")).unwrap();
    let e = run_upgrade(&t, &settings, &script("1.1.0"), "1.1.0")
        .await
        .unwrap_err();
    assert_eq!(e.step, Step::Lock, "{e}");
    assert!(e.to_string().contains("cannot create"), "{e}");
    assert!(!e.to_string().contains("another fleetup run"), "{e}");
    assert_eq!(std::fs::read(d.path("app")).unwrap(), script("1.0.0"));
    assert_eq!(d.names(), [".app.fleetup.lock", "app"], "temp file left");
}
