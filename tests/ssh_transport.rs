//! The SSH transport (russh) against the lab's real OpenSSH servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fleetup::transport::ssh::{HostKeyVerifier, JumpTarget, SshTarget, SshTransport};
use fleetup::transport::{MAX_OUTPUT_BYTES, RemoteCommand, Transport, TransportError};
use sha2::{Digest, Sha256};

use crate::support::lab::Lab;
use crate::support::{describe, run};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A verifier over a known_hosts file of plain `address keytype base64` lines (the lab's):
/// the key must be the one recorded for that address (port 22 only). Records every call.
fn verifier(known_hosts: &Path, calls: Arc<Mutex<Vec<(String, u16)>>>) -> HostKeyVerifier {
    let text = std::fs::read_to_string(known_hosts).expect("read known_hosts");
    let entries: Vec<(String, russh::keys::PublicKey)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (host, _kind, b64) = (w.next()?, w.next()?, w.next()?);
            Some((
                host.to_owned(),
                russh::keys::parse_public_key_base64(b64).expect("key in known_hosts"),
            ))
        })
        .collect();
    Arc::new(move |host: &str, port: u16, key: &russh::keys::PublicKey| {
        calls.lock().unwrap().push((host.to_owned(), port));
        let known: Vec<_> = entries.iter().filter(|(h, _)| h == host).collect();
        if port != 22 || known.is_empty() {
            return Err(format!("{host}:{port} is not in known_hosts"));
        }
        if known.iter().any(|(_, k)| k.key_data() == key.key_data()) {
            Ok(())
        } else {
            Err(format!("{host}: the host key changed"))
        }
    })
}

fn no_calls() -> Arc<Mutex<Vec<(String, u16)>>> {
    Arc::new(Mutex::new(Vec::new()))
}

/// A target for `host` of the lab with the lab's key only (no agent, no default keys).
fn target(lab: &Lab, host: &str) -> SshTarget {
    let h = lab.host(host);
    let mut t = SshTarget::new(
        &h.name,
        &h.addr,
        "root",
        verifier(&lab.known_hosts(), no_calls()),
    );
    t.identity_files = vec![lab.client_key()];
    t.use_agent = false;
    t.use_default_identities = false;
    t.connect_timeout = Duration::from_secs(20);
    t
}

fn cmd(argv: &[&str], secs: u64) -> RemoteCommand {
    RemoteCommand::new(argv.iter().copied(), Duration::from_secs(secs))
}

fn sha256_hex(data: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(data).into();
    hex::encode(digest)
}

/// Deterministic, incompressible-looking bytes.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A new key pair in `dir` (`ssh-keygen -t KIND -N PASS`); returns the private key's path.
fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    let out = run(Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null()));
    assert!(out.status.success(), "ssh-keygen: {}", describe(&out));
    path
}

/// Lets every lab host accept `key` for root (the lab's hosts share one authorized_keys).
fn authorize(lab: &Lab, key: &Path) {
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    let file = lab.dir().join("authorized_keys");
    let mut all = std::fs::read_to_string(&file).expect("authorized_keys");
    all.push_str(&pubkey);
    std::fs::write(&file, all).expect("write authorized_keys");
}

#[test]
fn exec_status_stdout_stderr_quoting_cap_timeout_concurrency() {
    let lab = Lab::start(1);
    let rt = rt();
    rt.block_on(async {
        let started = Instant::now();
        let t = SshTransport::connect(target(&lab, "host001"))
            .await
            .unwrap();
        eprintln!(
            "connect (TCP, kex, auth): {:?}, cipher {:?}",
            started.elapsed(),
            t.cipher()
        );
        assert_eq!(t.host(), "host001");

        // uname, exit codes, stderr.
        let out = t.exec(&cmd(&["uname", "-sm"], 10), None).await.unwrap();
        assert_eq!(out.status, Some(0), "{out:?}");
        assert!(out.stdout_text().starts_with("Linux "), "{out:?}");
        let out = t
            .exec(
                &cmd(&["sh", "-c", "echo to-err >&2; echo to-out; exit 3"], 10),
                None,
            )
            .await
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout_text(), "to-out\n");
        assert_eq!(out.stderr_text(), "to-err\n");
        assert!(!out.truncated);

        // Killed by a signal: no status, the signal said in stderr.
        let out = t
            .exec(&cmd(&["sh", "-c", "echo before >&2; kill -9 $$"], 10), None)
            .await
            .unwrap();
        assert_eq!(out.status, None, "{out:?}");
        let err = out.stderr_text();
        assert!(
            err.starts_with("before\n") && err.contains("signal KILL"),
            "{err}"
        );

        // Quoting: every word reaches the program verbatim, nothing is executed.
        let marker = format!("/tmp/fleetup-pwned-{}", std::process::id());
        let words = [
            format!("$(touch {marker})"),
            format!("`touch {marker}`"),
            "it's \"quoted\" \\ back".to_owned(),
            format!("x; touch {marker}; #"),
            "two\nlines".to_owned(),
            "-n".to_owned(),
            "--".to_owned(),
            "*".to_owned(),
            String::new(),
        ];
        // printf's format `%s\n` is itself a word no shell sees unquoted.
        let mut argv = vec!["printf".to_owned(), "%s\n".to_owned()];
        argv.extend(words.iter().cloned());
        let c = RemoteCommand::new(argv, Duration::from_secs(10));
        let out = t.exec(&c, None).await.unwrap();
        assert_eq!(out.status, Some(0), "{out:?}");
        let expected: String = words.iter().map(|w| format!("{w}\n")).collect();
        assert_eq!(out.stdout_text(), expected);
        assert!(!Path::new(&marker).exists(), "a quoted word was executed");

        // Output cap: 3 MiB of stdout keeps MAX_OUTPUT_BYTES, says so, and the command ends.
        let out = t
            .exec(&cmd(&["head", "-c", "3145728", "/dev/zero"], 30), None)
            .await
            .unwrap();
        assert_eq!(out.status, Some(0));
        assert_eq!(out.stdout.len(), MAX_OUTPUT_BYTES);
        assert!(out.truncated);

        // Per-command timeout: `sleep` is killed, the error names host and command.
        let started = Instant::now();
        let err = t
            .exec(&cmd(&["sleep", "31.25"], 1), None)
            .await
            .unwrap_err();
        let took = started.elapsed();
        // Killed at its 1 s timeout, not left to run its 31 s (the margin is for a loaded
        // machine: this asserts the kill, not a speed).
        assert!(took < Duration::from_secs(15), "timeout took {took:?}");
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("host001") && msg.contains("sleep 31.25"),
            "{msg}"
        );
        let mut gone = false;
        for _ in 0..30 {
            let out = lab.ssh("host001", "pgrep -f 'slee[p] 31.25' || echo none");
            if String::from_utf8_lossy(&out.stdout).trim() == "none" {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let ps = lab.ssh(
            "host001",
            "ps -eo pid,ppid,pgid,sid,args | grep -v grep | grep -B3 -A1 'sleep 31'",
        );
        assert!(
            gone,
            "the timed-out command still runs on the host: {}",
            describe(&ps)
        );
        // The connection is still usable after a timeout.
        let out = t.exec(&cmd(&["true"], 10), None).await.unwrap();
        assert_eq!(out.status, Some(0));

        // Concurrent commands on the one connection: an upload, and two commands that each
        // wait for the other's file — they can only both finish if they run at the same time.
        let data = Bytes::from(pseudo_random(8 << 20));
        let want = sha256_hex(&data);
        let rendezvous = format!("/opt/rendezvous-{}", std::process::id());
        let meet = |me: &str, other: &str| {
            let script = format!(
                "touch {rendezvous}.{me}; while [ ! -e {rendezvous}.{other} ]; do sleep 0.05; done; echo {me}"
            );
            cmd(&["sh", "-c", &script], 30)
        };
        let (c_up, c_a, c_b, c_c) = (
            cmd(&["sha256sum"], 60),
            meet("a", "b"),
            meet("b", "a"),
            cmd(&["echo", "c"], 10),
        );
        let upload = t.exec(&c_up, Some(data));
        let both = async { tokio::join!(t.exec(&c_a, None), t.exec(&c_b, None), t.exec(&c_c, None)) };
        let (up, (a, b, c)) = tokio::join!(upload, both);
        assert!(up.unwrap().stdout_text().starts_with(&want));
        assert_eq!(a.unwrap().stdout_text(), "a\n", "a and b did not run at the same time");
        assert_eq!(b.unwrap().stdout_text(), "b\n");
        assert_eq!(c.unwrap().stdout_text(), "c\n");

        // More commands at once than run at once (MAX_CONCURRENT_COMMANDS): the rest queue.
        let many: Vec<RemoteCommand> = (0..20)
            .map(|i| {
                RemoteCommand::new(["echo".to_owned(), i.to_string()], Duration::from_secs(30))
            })
            .collect();
        let outs = futures_util::future::join_all(many.iter().map(|c| t.exec(c, None))).await;
        for (i, out) in outs.into_iter().enumerate() {
            assert_eq!(out.unwrap().stdout_text(), format!("{i}\n"));
        }

        // A command whose stdin is not read still ends (the writer gives up, no hang).
        let out = t
            .exec(&cmd(&["true"], 20), Some(Bytes::from(vec![0u8; 16 << 20])))
            .await
            .unwrap();
        assert_eq!(out.status, Some(0));

        t.close().await.unwrap();
    });
}

#[test]
fn upload_32_mib_on_stdin_sha256_checked_on_the_host() {
    let lab = Lab::start(1);
    let rt = rt();
    rt.block_on(async {
        let t = SshTransport::connect(target(&lab, "host001"))
            .await
            .unwrap();
        let data = Bytes::from(pseudo_random(32 << 20));
        let want = sha256_hex(&data);
        let started = Instant::now();
        let out = t
            .exec(
                &cmd(
                    &["sh", "-c", "cat > /opt/upload && sha256sum /opt/upload"],
                    120,
                ),
                Some(data.clone()),
            )
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(out.status, Some(0), "{}", out.stderr_text());
        assert_eq!(out.stdout_text(), format!("{want}  /opt/upload\n"));
        let on_disk = std::fs::read(lab.opt_dir("host001").join("upload")).unwrap();
        assert_eq!(on_disk.len(), data.len());
        eprintln!(
            "32 MiB upload + remote sha256 with {:?}: {secs:.2} s, {:.0} MB/s",
            t.cipher(),
            32.0 * 1.048_576 / secs
        );
        t.close().await.unwrap();
    });
}

/// 100 MB into `cat > /dev/null` per cipher; prints the throughput (the numbers in docs/ssh.md).
#[test]
fn cipher_throughput_aes_gcm_and_chacha20() {
    let lab = Lab::start(1);
    let rt = rt();
    rt.block_on(async {
        let data = Bytes::from(pseudo_random(100_000_000));
        for cipher in [
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
        ] {
            let mut tg = target(&lab, "host001");
            tg.ciphers = Some(vec![cipher.to_owned()]);
            let t = SshTransport::connect(tg).await.unwrap();
            assert_eq!(t.cipher().as_deref(), Some(cipher));
            let started = Instant::now();
            let out = t
                .exec(
                    &cmd(&["sh", "-c", "cat > /dev/null"], 120),
                    Some(data.clone()),
                )
                .await
                .unwrap();
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(out.status, Some(0));
            eprintln!("{cipher}: 100 MB in {secs:.2} s = {:.0} MB/s", 100.0 / secs);
            t.close().await.unwrap();
        }
        let t = SshTransport::connect(target(&lab, "host001"))
            .await
            .unwrap();
        let default = t.cipher().unwrap();
        eprintln!(
            "default cipher: {default} (AES instructions: {})",
            fleetup::transport::ssh::cpu_has_aes()
        );
        if fleetup::transport::ssh::cpu_has_aes() {
            assert!(default.contains("gcm"), "{default}");
        }
    });
}

#[test]
fn unknown_host_key_and_wrong_user_key_are_refused() {
    let lab = Lab::start(1);
    let rt = rt();
    let tmp = tempfile::tempdir().unwrap();
    rt.block_on(async {
        // A verifier that knows no host.
        let empty = tmp.path().join("known_hosts");
        std::fs::write(&empty, "").unwrap();
        let calls = no_calls();
        let mut tg = target(&lab, "host001");
        tg.verifier = verifier(&empty, calls.clone());
        let err = SshTransport::connect(tg).await.unwrap_err();
        let TransportError::HostKey { host, reason } = &err else {
            panic!("expected a host key error: {err}");
        };
        assert_eq!(host, "host001");
        assert!(reason.contains(&lab.host("host001").addr), "{reason}");
        assert_eq!(
            *calls.lock().unwrap(),
            [(lab.host("host001").addr.clone(), 22)]
        );

        // A key the host does not accept.
        let stranger = keygen(tmp.path(), "stranger", "ed25519", "");
        let mut tg = target(&lab, "host001");
        tg.identity_files = vec![stranger.clone()];
        let err = SshTransport::connect(tg).await.unwrap_err();
        let TransportError::Auth { host, user, reason } = &err else {
            panic!("expected an auth error: {err}");
        };
        assert_eq!((host.as_str(), user.as_str()), ("host001", "root"));
        assert!(
            reason.contains(&stranger.display().to_string()) && reason.contains("refused"),
            "{reason}"
        );
    });
}

#[test]
fn encrypted_key_with_passphrase_and_rsa_key_with_sha2() {
    let lab = Lab::start(1);
    let rt = rt();
    let tmp = tempfile::tempdir().unwrap();
    let locked = keygen(tmp.path(), "locked", "ed25519", "pass");
    let rsa = keygen(tmp.path(), "rsa", "rsa", "");
    authorize(&lab, &locked);
    authorize(&lab, &rsa);
    rt.block_on(async {
        // Without a passphrase (stdin of the tests is not a terminal): a clear error, no hang.
        let mut tg = target(&lab, "host001");
        tg.identity_files = vec![locked.clone()];
        if std::env::var_os(fleetup::transport::ssh::PASSPHRASE_ENV).is_none()
            && !std::io::IsTerminal::is_terminal(&std::io::stdin())
        {
            let started = Instant::now();
            let err = SshTransport::connect(tg.clone()).await.unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(10));
            let msg = err.to_string();
            assert!(
                matches!(err, TransportError::Auth { .. })
                    && msg.contains("encrypted")
                    && msg.contains("FLEETUP_SSH_PASSPHRASE"),
                "{msg}"
            );
        }
        // A wrong passphrase is said so.
        tg.passphrase = Some("wrong".into());
        let msg = SshTransport::connect(tg.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains("does not open it"), "{msg}");
        // The right one.
        tg.passphrase = Some("pass".into());
        let t = SshTransport::connect(tg).await.unwrap();
        let out = t.exec(&cmd(&["echo", "unlocked"], 10), None).await.unwrap();
        assert_eq!(out.stdout_text(), "unlocked\n");
        t.close().await.unwrap();

        // RSA: OpenSSH 9 refuses SHA-1 signatures, so success means rsa-sha2-*.
        let mut tg = target(&lab, "host001");
        tg.identity_files = vec![rsa];
        let t = SshTransport::connect(tg).await.unwrap();
        let out = t.exec(&cmd(&["echo", "rsa"], 10), None).await.unwrap();
        assert_eq!(out.stdout_text(), "rsa\n");
        t.close().await.unwrap();
    });
    // The passphrase from the environment, in a child process (tests cannot set variables).
    child(
        &lab,
        &[
            (fleetup::transport::ssh::PASSPHRASE_ENV, "pass".as_ref()),
            ("FLEETUP_TEST_CHILD_KEY", locked.as_os_str()),
        ],
    );
}

/// Runs only as the child of the tests above (does nothing otherwise): connects with what the
/// environment gives, an encrypted key whose passphrase is in `FLEETUP_SSH_PASSPHRASE`
/// (`FLEETUP_TEST_CHILD_KEY`), or else the agent of `SSH_AUTH_SOCK` only.
#[test]
#[ignore = "not a test of its own: run by child() in a child process, with the environment it needs"]
fn child_connects_with_what_the_environment_gives() {
    let (Ok(addr), Ok(kh)) = (
        std::env::var("FLEETUP_TEST_CHILD_ADDR"),
        std::env::var("FLEETUP_TEST_CHILD_KNOWN_HOSTS"),
    ) else {
        panic!(
            "run by child() only: FLEETUP_TEST_CHILD_ADDR and FLEETUP_TEST_CHILD_KNOWN_HOSTS are not set"
        );
    };
    let key = std::env::var_os("FLEETUP_TEST_CHILD_KEY");
    rt().block_on(async {
        let mut tg = SshTarget::new("child", addr, "root", verifier(Path::new(&kh), no_calls()));
        tg.use_agent = key.is_none();
        tg.identity_files = key.map(PathBuf::from).into_iter().collect();
        tg.use_default_identities = false;
        let t = SshTransport::connect(tg).await.unwrap();
        let out = t.exec(&cmd(&["echo", "from env"], 10), None).await.unwrap();
        println!("child: connected {}", out.stdout_text().trim());
        t.close().await.unwrap();
    });
}

/// Runs [`child_connects_with_what_the_environment_gives`] in a child process with `env`.
fn child(lab: &Lab, env: &[(&str, &std::ffi::OsStr)]) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "ssh_transport::child_connects_with_what_the_environment_gives",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env_remove("SSH_AUTH_SOCK")
    .env_remove(fleetup::transport::ssh::PASSPHRASE_ENV)
    .env("FLEETUP_TEST_CHILD_ADDR", &lab.host("host001").addr)
    .env("FLEETUP_TEST_CHILD_KNOWN_HOSTS", lab.known_hosts())
    .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(&mut c);
    let text = describe(&out);
    assert!(
        out.status.success() && text.contains("child: connected from env"),
        "{text}"
    );
}

/// An `ssh-agent` in the foreground, killed on drop.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn agent_authentication_without_identity_file() {
    let lab = Lab::start(1);
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("agent.sock");
    let agent = Agent(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent"),
    );
    for _ in 0..50 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run(Command::new("ssh-add")
        .arg(lab.client_key())
        .env("SSH_AUTH_SOCK", &sock)
        .stdin(Stdio::null()));
    assert!(out.status.success(), "ssh-add: {}", describe(&out));
    rt().block_on(async {
        let mut tg = target(&lab, "host001");
        tg.identity_files.clear();
        tg.use_agent = true;
        tg.agent_socket = Some(sock.clone());
        let t = SshTransport::connect(tg.clone()).await.unwrap();
        let out = t.exec(&cmd(&["echo", "agent"], 10), None).await.unwrap();
        assert_eq!(out.stdout_text(), "agent\n");
        t.close().await.unwrap();

        // The agent found through SSH_AUTH_SOCK (in a child process: tests cannot set it).
        child(&lab, &[("SSH_AUTH_SOCK", sock.as_os_str())]);

        // Without the agent and without keys: an Auth error that says what was tried.
        tg.agent_socket = Some(tmp.path().join("no-such.sock"));
        let err = SshTransport::connect(tg).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Auth { .. }) && err.to_string().contains("agent"),
            "{err}"
        );
    });
    drop(agent);
}

#[test]
fn jump_chain_checks_every_hop_under_its_own_name() {
    let lab = Lab::start(3);
    let [h1, h2, h3] = [
        lab.host("host001"),
        lab.host("host002"),
        lab.host("host003"),
    ]
    .map(|h| h.addr.clone());
    std::fs::write(lab.opt_dir("host003").join("whoami"), "I am host003\n").unwrap();
    let hop = |addr: &str| JumpTarget {
        address: addr.to_owned(),
        port: 22,
        user: "root".into(),
    };
    rt().block_on(async {
        let calls = no_calls();
        let mut tg = target(&lab, "host003");
        tg.verifier = verifier(&lab.known_hosts(), calls.clone());
        tg.jump = vec![hop(&h1), hop(&h2)];
        let t = SshTransport::connect(tg.clone()).await.unwrap();
        assert_eq!(
            *calls.lock().unwrap(),
            [(h1.clone(), 22), (h2.clone(), 22), (h3.clone(), 22)]
        );
        let out = t
            .exec(&cmd(&["cat", "/opt/whoami"], 10), None)
            .await
            .unwrap();
        assert_eq!(out.stdout_text(), "I am host003\n");
        // The sshd of host003 sees the connection coming from host002's forwarding.
        let out = t
            .exec(&cmd(&["sh", "-c", "echo $SSH_CONNECTION"], 10), None)
            .await
            .unwrap();
        assert!(out.stdout_text().contains(&format!(" {h3} 22")), "{out:?}");
        t.close().await.unwrap();

        // The target's key is checked under the target's address: a known_hosts that only
        // knows the jump hosts refuses the target, and the error names it.
        let kh = std::fs::read_to_string(lab.known_hosts()).unwrap();
        let partial: String = kh
            .lines()
            .filter(|l| !l.starts_with(&format!("{h3} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        let partial_file = lab.dir().join("known_hosts.jumps-only");
        std::fs::write(&partial_file, partial).unwrap();
        tg.verifier = verifier(&partial_file, no_calls());
        let err = SshTransport::connect(tg.clone()).await.unwrap_err();
        let TransportError::HostKey { host, reason } = &err else {
            panic!("expected a host key error: {err}");
        };
        assert_eq!(host, "host003");
        assert!(reason.contains(&h3) && !reason.contains("jump"), "{reason}");

        // A jump host's unknown key is refused under the jump host's name.
        let partial: String = kh
            .lines()
            .filter(|l| !l.starts_with(&format!("{h2} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&partial_file, partial).unwrap();
        tg.verifier = verifier(&partial_file, no_calls());
        let err = SshTransport::connect(tg).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, TransportError::HostKey { .. })
                && msg.contains(&format!("jump host {h2}:22")),
            "{msg}"
        );
    });
}

#[test]
fn connect_timeout_when_the_server_never_answers() {
    // Accepts TCP (the kernel does) but never sends an SSH banner.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    rt().block_on(async {
        let mut tg = SshTarget::new(
            "silent",
            "127.0.0.1",
            "root",
            Arc::new(|_: &str, _: u16, _: &russh::keys::PublicKey| Err("never asked".to_owned())),
        );
        tg.port = port;
        tg.use_agent = false;
        tg.use_default_identities = false;
        tg.connect_timeout = Duration::from_millis(1500);
        let started = Instant::now();
        let err = SshTransport::connect(tg).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
            "{took:?}"
        );
        let TransportError::Connect {
            host,
            address,
            reason,
        } = &err
        else {
            panic!("expected a connect error: {err}");
        };
        assert_eq!(host, "silent");
        assert_eq!(address, &format!("127.0.0.1:{port}"));
        assert!(reason.contains("timed out"), "{reason}");
    });
    drop(silent);
}

#[test]
fn a_dropped_connection_is_reported_lost() {
    let lab = Lab::start(1);
    rt().block_on(async {
        let t = SshTransport::connect(target(&lab, "host001"))
            .await
            .unwrap();
        // Kill this connection's sshd session process from inside it.
        let err = t
            .exec(&cmd(&["sh", "-c", "kill -9 $PPID; sleep 5"], 10), None)
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Lost { .. }), "{err}");
        let err = t.exec(&cmd(&["true"], 10), None).await.unwrap_err();
        assert!(matches!(err, TransportError::Lost { .. }), "{err}");
        assert!(t.is_closed());
    });
}

/// Every process descending from `pid` (not `pid` itself).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(ppid) = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|w| w.parse::<u32>().ok())
        {
            parent.push((p, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

fn signal(sig: &str, pids: &[u32]) {
    let out = run(Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string)));
    assert!(out.status.success(), "kill -{sig}: {}", describe(&out));
}

#[test]
fn keepalives_detect_a_silent_peer() {
    let lab = Lab::start(1);
    rt().block_on(async {
        let mut tg = target(&lab, "host001");
        tg.keepalive_interval = Duration::from_millis(300);
        let t = SshTransport::connect(tg).await.unwrap();
        assert_eq!(
            t.exec(&cmd(&["true"], 10), None).await.unwrap().status,
            Some(0)
        );
        // Freeze the sshd processes serving this connection (the lab has no other client).
        let serving = descendants(lab.pids()[0]);
        assert!(!serving.is_empty());
        signal("STOP", &serving);
        let started = Instant::now();
        let result = t.exec(&cmd(&["true"], 30), None).await;
        let took = started.elapsed();
        signal("CONT", &serving);
        let err = result.unwrap_err();
        assert!(matches!(err, TransportError::Lost { .. }), "{err}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        eprintln!("silent peer detected after {took:?} (keepalive every 300 ms, 3 unanswered)");
    });
}
