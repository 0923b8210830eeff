//! A tiny service for fleetup's end-to-end tests: one program, many "releases".
//!
//! Its version is not compiled in: it is read from a trailer appended to the executable itself
//! (an ELF file with bytes appended still runs), so a test makes releases 1.0.0, 1.1.0, … of the
//! same program by appending
//!
//! ```text
//! FLEETUP_DEMO_FAIL=1            (optional: a broken release, exits 1 instead of serving)
//! FLEETUP_DEMO_VERSION=1.1.0     (the last line)
//! ```
//!
//! - `demo-service --version` prints `demo-service X.Y.Z`;
//! - `demo-service version` prints what `cells version` prints (a few lines, the version on the
//!   second), so the Cells tests can use Cells' own version command;
//! - `demo-service ADDR:PORT` binds that address and answers every HTTP request with `200` and
//!   the body `demo-service X.Y.Z\n`; it exits 1 when it cannot bind (e.g. port 80 without
//!   `cap_net_bind_service`) or when the release is marked broken.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// What the trailer says.
struct Release {
    version: String,
    fail: bool,
}

/// Reads the trailer at the end of this executable: the consecutive `FLEETUP_DEMO_*=…` lines
/// at its end, the last of which must be `FLEETUP_DEMO_VERSION=…`.
fn release() -> Result<Release, String> {
    let bytes =
        std::fs::read("/proc/self/exe").map_err(|e| format!("cannot read /proc/self/exe: {e}"))?;
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    let tail = tail.strip_suffix(b"\n").unwrap_or(tail);
    let mut version = None;
    let mut fail = false;
    for (i, line) in tail.rsplit(|&b| b == b'\n').enumerate() {
        let Ok(line) = std::str::from_utf8(line) else {
            break;
        };
        match line.split_once('=') {
            Some(("FLEETUP_DEMO_VERSION", v)) if i == 0 => version = Some(v.trim().to_owned()),
            Some(("FLEETUP_DEMO_FAIL", v)) => fail = v.trim() == "1",
            _ => break,
        }
    }
    match version {
        Some(version) if !version.is_empty() => Ok(Release { version, fail }),
        _ => Err("no FLEETUP_DEMO_VERSION=X.Y.Z trailer at the end of this executable".into()),
    }
}

/// Reads one request's head (up to the blank line, or whatever arrives within the timeout) and
/// answers 200 with `body`.
fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = match release() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo-service: {e}");
            return ExitCode::from(2);
        }
    };
    let name = format!("demo-service {}", release.version);
    match args.as_slice() {
        [flag] if flag == "--version" => {
            println!("{name}");
            ExitCode::SUCCESS
        }
        [cmd] if cmd == "version" => {
            println!("Pydio Cells stand-in ({name})");
            println!(" Version: \t{}", release.version);
            println!(
                " OS/Arch: \t{}/{}",
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            ExitCode::SUCCESS
        }
        [addr] if !addr.starts_with('-') => {
            if release.fail {
                eprintln!("{name}: this release is broken on purpose (FLEETUP_DEMO_FAIL=1)");
                return ExitCode::from(1);
            }
            let listener = match TcpListener::bind(addr.as_str()) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{name}: cannot bind {addr}: {e}");
                    return ExitCode::from(1);
                }
            };
            eprintln!("{name}: listening on {addr}");
            let body = format!("{name}\n");
            for stream in listener.incoming() {
                match stream {
                    Ok(s) => {
                        let body = body.clone();
                        std::thread::spawn(move || answer(s, &body));
                    }
                    Err(e) => eprintln!("{name}: accept: {e}"),
                }
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: demo-service --version | demo-service ADDR:PORT");
            ExitCode::from(2)
        }
    }
}
