use std::time::Duration;

use super::*;
use crate::plan::decide;
use crate::release::Artifact;
use crate::steps::probe::parse_probe;
use crate::steps::{HostSettings, health, lock, probe, rollback, stage, swap};

/// Records every command; the stage command never ends on its own (an upload in flight).
#[derive(Default)]
struct Fake {
    ran: Mutex<Vec<String>>,
}

impl Fake {
    fn ran(&self) -> Vec<String> {
        self.ran.lock().unwrap().clone()
    }
}

/// The script name of a `sh -c SCRIPT NAME …` command, else the program.
fn name(cmd: &RemoteCommand) -> String {
    match cmd.argv.as_slice() {
        [sh, c, _, name, ..] if sh == "sh" && c == "-c" => name.clone(),
        argv => argv[0].clone(),
    }
}

impl Transport for Fake {
    fn host(&self) -> &str {
        "web1"
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        _stdin: Option<Bytes>,
    ) -> Result<CommandOutput, TransportError> {
        let n = name(cmd);
        self.ran.lock().unwrap().push(n.clone());
        if n == "fleetup-stage" {
            std::future::pending::<()>().await;
        }
        Ok(CommandOutput {
            status: Some(0),
            stdout: if n == "fleetup-lock" {
                b"acquired\n".to_vec()
            } else {
                Vec::new()
            },
            ..CommandOutput::default()
        })
    }
}

fn plan() -> crate::plan::Plan {
    let probe = parse_probe(
        "web1",
        "/srv/app",
        "fleetup-probe 1\nos=Linux\narch=x86_64\nuser=root\nreal=/srv/app\n\
         stat=755 0 0 10 root root\nidentity=8:9:10:m:c\nsha256=\
         1111111111111111111111111111111111111111111111111111111111111111\nwritable=1\n\
         version| app 1.0.0\nend=1\n",
    )
    .unwrap();
    let a = Artifact {
        os: "linux".into(),
        arch: "amd64".into(),
        url: "u".into(),
        size: 3,
        sha256: "2".repeat(64),
    };
    decide(
        &probe,
        &HostSettings::for_binary("/srv/app"),
        "1.1.0",
        &a,
        false,
    )
}

/// The policy knows the steps' commands by their script names: a renamed script fails here.
#[test]
fn every_step_command_has_its_kind() {
    let mut s = HostSettings::for_binary("/srv/app");
    s.become_user = Some("root".into());
    s.restart_command = Some("systemctl restart app".into());
    s.restart = true;
    s.health_command = Some("true".into());
    let plan = plan();
    let owner = lock::LockOwner::current("r");
    let lock_file = lock::lock_path("/srv", "app");
    assert_eq!(kind(&probe::probe_command(&s, None)), Kind::Probe);
    assert_eq!(
        kind(&lock::acquire_command(&s, &lock_file, &owner, "")),
        Kind::Lock
    );
    assert_eq!(
        kind(&stage::stage_command(&s, &plan, "/srv/.app.fleetup-x", 10)),
        Kind::Stage
    );
    assert_eq!(
        kind(&swap::swap_command(
            &s,
            &plan,
            "/srv/.app.fleetup-x",
            "/srv/b"
        )),
        Kind::Commit
    );
    assert_eq!(
        kind(&rollback::restore_command(&s, "/srv/app", "/srv", &[])),
        Kind::Commit
    );
    for other in [
        lock::release_command(&s, &lock_file, "r"),
        stage::remove_command(&s, "/srv/.app.fleetup-x"),
        health::restart_command(&s).unwrap(),
        health::health_command(&s).unwrap(),
    ] {
        assert_eq!(kind(&other), Kind::Other, "{:?}", other.argv);
    }
}

#[tokio::test]
async fn unless_runs_the_work_or_stops_at_the_signal() {
    let i = Interrupt::new();
    assert_eq!(i.unless(async { 7 }).await, Ok(7));
    let waiting = i.unless(std::future::pending::<()>());
    let raise = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(i.raise(Signal::Term), "the first signal");
    };
    let (out, ()) = tokio::join!(waiting, raise);
    assert_eq!(out, Err(Signal::Term));
    assert!(!i.raise(Signal::Int), "a second signal is not the first");
    assert_eq!(i.signal(), Some(Signal::Term), "the first one is kept");
    assert_eq!(
        i.unless(async { 7 }).await,
        Err(Signal::Term),
        "not started"
    );
    assert_eq!(
        (
            Signal::Int.exit_code(),
            Signal::Term.exit_code(),
            Signal::Hup.exit_code()
        ),
        (130, 143, 129)
    );
    for sig in [Signal::Int, Signal::Term, Signal::Hup] {
        assert_eq!(Signal::from_number(sig.number()), Some(sig));
        assert_eq!(i32::from(sig.exit_code()), 128 + sig.number());
    }
}

/// A stop during the upload cuts it off; the staged file is removed and the lock released (by
/// the steps' own cleanup, which the policy lets through); the host is `failed`, saying so.
#[tokio::test]
async fn a_stop_during_the_upload_cuts_it_off_and_cleans_up() {
    let i = Interrupt::new();
    let fake = Fake::default();
    let t = Guarded::new(&fake, &i);
    let settings = HostSettings::for_binary("/srv/app");
    let plan = plan();
    let work = crate::steps::upgrade(&t, &settings, &plan, Bytes::from_static(b"new"), "r");
    let raise = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        i.raise(Signal::Int);
    };
    let (done, ()) = tokio::join!(work, raise);
    let e = done.unwrap_err();
    assert_eq!(e.step, crate::steps::Step::Stage);
    assert!(e.message.starts_with("interrupted by SIGINT"), "{e}");
    assert_eq!(
        fake.ran(),
        ["fleetup-lock", "fleetup-stage", "rm", "fleetup-unlock"],
        "no swap after the stop; the temp file removed, the lock released"
    );
    let rep = t.report(HostReport::new("web1", "failed"));
    assert_eq!(rep.result, "failed");
    let detail = rep.detail.unwrap();
    assert_eq!(
        detail,
        "interrupted by SIGINT before its swap (at stage): the binary is untouched; its temp \
         file was removed, its lock was released"
    );
}

/// After a stop, a host that has not begun is not begun: nothing runs but the cleanup, and it
/// is `skipped`.
#[tokio::test]
async fn after_a_stop_no_lock_is_taken() {
    let i = Interrupt::new();
    i.raise(Signal::Term);
    let fake = Fake::default();
    let t = Guarded::new(&fake, &i);
    let settings = HostSettings::for_binary("/srv/app");
    let e = crate::steps::upgrade(&t, &settings, &plan(), Bytes::from_static(b"new"), "r")
        .await
        .unwrap_err();
    assert_eq!(e.step, crate::steps::Step::Lock);
    assert!(fake.ran().is_empty(), "{:?}", fake.ran());
    let mut rep = HostReport::new("web1", "failed");
    rep.from = Some("1.0.0".into());
    let rep = t.report(rep);
    assert_eq!(rep.result, "skipped");
    assert_eq!(rep.from.as_deref(), Some("1.0.0"));
    assert_eq!(
        rep.detail.as_deref(),
        Some("not started: interrupted by SIGTERM before anything was changed")
    );
}

/// Past the point of no return every command runs, a stop or not: the restore of a rollback
/// after a failed health check, the restart, the unlock.
#[tokio::test]
async fn past_the_swap_everything_runs() {
    let i = Interrupt::new();
    let fake = Fake::default();
    let t = Guarded::new(&fake, &i);
    let s = HostSettings::for_binary("/srv/app");
    let swap = swap::swap_command(&s, &plan(), "/srv/.app.fleetup-x", "/srv/b");
    t.exec(&swap, None).await.unwrap();
    i.raise(Signal::Int);
    let restore = rollback::restore_command(&s, "/srv/app", "/srv", &[]);
    t.exec(&restore, None).await.unwrap();
    let mut restart = s.clone();
    restart.restart = true;
    restart.restart_command = Some("true".into());
    t.exec(&health::restart_command(&restart).unwrap(), None)
        .await
        .unwrap();
    t.exec(
        &lock::release_command(&s, "/srv/.app.fleetup.lock", "r"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.ran(),
        ["fleetup-swap", "fleetup-rollback", "sh", "fleetup-unlock"]
    );
    let rep = t.report(HostReport::new("web1", "upgraded"));
    assert_eq!(rep.result, "upgraded", "its own report is kept");
}

/// A panic in one host's work fails that host only.
#[tokio::test]
async fn a_panicking_host_fails_alone() {
    let ok = contain_panic("web1", Job::Upgrade, async {
        HostReport::new("web1", "upgraded")
    });
    let boom = contain_panic("web2", Job::Upgrade, async {
        tokio::task::yield_now().await;
        let v: Vec<u8> = Vec::new();
        HostReport::new(&format!("web2 {}", v[3]), "upgraded")
    });
    let (ok, boom) = tokio::join!(ok, boom);
    assert_eq!(ok.result, "upgraded");
    assert_eq!(boom.host, "web2");
    assert_eq!(boom.result, "failed");
    let f = boom.failure.unwrap();
    assert!(
        f.message
            .starts_with("internal error: fleetup panicked while working on this host"),
        "{}",
        f.message
    );
    assert!(f.message.contains("index out of bounds"), "{}", f.message);
}
