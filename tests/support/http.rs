//! A real HTTP/1.1 server for the release tests: serves the files of a directory on
//! 127.0.0.1 (a random port) from a background thread, honours `Range: bytes=N-[M]`, counts
//! requests per path, and can misbehave on purpose (see [`Fault`]). It stops when dropped.
//!
//! Every response is `Connection: close`; one thread per connection.
//!
//! A path can also answer `POST`s (see [`HttpServer::set_post_handler`]): the request body is
//! read by its `Content-Length` (at most [`MAX_POST_BYTES`]), logged, and handed to the
//! handler, whose answer goes out as `application/json` — through the same [`Fault`]s.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest `POST` body read; a longer one is answered `413`.
pub const MAX_POST_BYTES: usize = 1 << 20;

/// Answers a `POST` body with a status and a (JSON) body.
pub type PostHandler = Arc<dyn Fn(&[u8]) -> (u16, Vec<u8>) + Send + Sync>;

/// A way to misbehave on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a short text body.
    Status(u16),
    /// Send the headers (with the right `Content-Length`), then nothing until the server stops.
    StallAfterHeaders,
    /// Send the file, then endless extra bytes, with no `Content-Length` (body until close).
    Endless,
    /// Announce this `Content-Length`, then send the file and endless extra bytes.
    AnnounceLength(u64),
    /// Serve the file with the byte at this offset flipped.
    FlipByte(u64),
    /// Announce the full length, send this many body bytes, then close the connection.
    CloseAfter(u64),
    /// Announce the full length, send this many body bytes, then nothing more (the connection
    /// stays open, silent) until the server stops: a stall mid-body.
    StallAfter(u64),
    /// Announce the full length, then send the body one byte at a time, one every this long
    /// (a slow loris: never idle long enough for an idle timeout), until the client hangs up.
    Trickle(Duration),
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    pub range: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    faults: HashMap<String, (Fault, Option<usize>)>,
    log: Vec<Request>,
    /// Body bytes written by the last response per path.
    sent: HashMap<String, u64>,
    /// `POST` handlers per path.
    post_handlers: HashMap<String, Handler>,
    /// Every `POST` body received, with its path, in order.
    posts: Vec<(String, Vec<u8>)>,
}

#[derive(Clone)]
struct Handler(PostHandler);

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostHandler")
    }
}

#[derive(Debug)]
struct Shared {
    root: PathBuf,
    stop: AtomicBool,
    ranges: AtomicBool,
    /// Responses still writing (or stalling).
    active: AtomicUsize,
    state: Mutex<State>,
}

/// The server; dropping it stops it.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `root` on 127.0.0.1 at a free port.
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            root: root.to_owned(),
            stop: AtomicBool::new(false),
            ranges: AtomicBool::new(true),
            active: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
        });
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(&s, conn);
                });
            }
        });
        Self {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/` (with the trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path.trim_start_matches('/'))
    }

    /// Misbehave on `path` (e.g. `"stable.json"`) from now on.
    pub fn set_fault(&self, path: &str, fault: Fault) {
        self.state().faults.insert(normal(path), (fault, None));
    }

    /// Misbehave on the next request for `path` only.
    pub fn set_fault_once(&self, path: &str, fault: Fault) {
        self.state().faults.insert(normal(path), (fault, Some(1)));
    }

    pub fn clear_fault(&self, path: &str) {
        self.state().faults.remove(&normal(path));
    }

    /// Answer `POST`s to `path` with `handler` (the request body in, a status and a JSON body
    /// out). A `GET` of that path is answered `405`.
    pub fn set_post_handler(&self, path: &str, handler: PostHandler) {
        self.state()
            .post_handlers
            .insert(normal(path), Handler(handler));
    }

    /// The body of every `POST` to `path`, in order.
    pub fn posts(&self, path: &str) -> Vec<Vec<u8>> {
        let p = normal(path);
        self.state()
            .posts
            .iter()
            .filter(|(path, _)| *path == p)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Whether `Range` requests are honoured (default yes); without, they get a full `200`.
    pub fn set_ranges(&self, on: bool) {
        self.shared.ranges.store(on, Ordering::SeqCst);
    }

    /// How many requests asked for `path`.
    pub fn requests(&self, path: &str) -> usize {
        let p = normal(path);
        self.state().log.iter().filter(|r| r.path == p).count()
    }

    /// The `Range` header of each request for `path`, in order.
    pub fn ranges(&self, path: &str) -> Vec<Option<String>> {
        let p = normal(path);
        self.state()
            .log
            .iter()
            .filter(|r| r.path == p)
            .map(|r| r.range.clone())
            .collect()
    }

    /// Body bytes written by the last response for `path`.
    pub fn bytes_sent(&self, path: &str) -> u64 {
        self.state().sent.get(&normal(path)).copied().unwrap_or(0)
    }

    /// Responses still being written (an endless body stops once the client hangs up).
    pub fn active(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Waits up to `limit` for every response to end; true when they did. Async so that a
    /// client on the same (current-thread) runtime can close its connections meanwhile.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if self.active() == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.active() == 0
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes accept()
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn normal(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

struct Active<'a>(&'a Shared);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve(s: &Shared, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range = None;
    let mut content_length: Option<usize> = None;
    let mut header_bytes = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        header_bytes += line.len();
        if line == "\r\n" || line == "\n" || header_bytes > 16 * 1024 {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_owned());
            } else if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().ok();
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
    let (fault, handler) = {
        let mut st = s.state.lock().unwrap();
        st.log.push(Request {
            path: path.clone(),
            range: range.clone(),
        });
        let fault = match st.faults.get_mut(&path) {
            Some((f, Some(left))) => {
                let f = f.clone();
                *left -= 1;
                if *left == 0 {
                    st.faults.remove(&path);
                }
                Some(f)
            }
            Some((f, None)) => Some(f.clone()),
            None => None,
        };
        (fault, st.post_handlers.get(&path).cloned())
    };
    s.active.fetch_add(1, Ordering::SeqCst);
    let _active = Active(s);
    let is_post = method == "POST";
    // A POST path answers POSTs only; any other path answers GETs only.
    let allowed = is_post || (method == "GET" && handler.is_none());
    if !allowed {
        return respond_status(&mut conn, 405);
    }
    let mut status = "200 OK".to_owned();
    let mut content_type = "application/octet-stream";
    let mut data = if let (true, Some(Handler(handler))) = (is_post, &handler) {
        let len = content_length.unwrap_or(0);
        if len > MAX_POST_BYTES {
            return respond_status(&mut conn, 413);
        }
        let mut body = vec![0; len];
        std::io::Read::read_exact(&mut reader, &mut body)?;
        s.state
            .lock()
            .unwrap()
            .posts
            .push((path.clone(), body.clone()));
        if let Some(Fault::Status(code)) = fault {
            return respond_status(&mut conn, code);
        }
        let (code, answer) = handler(&body);
        status = format!("{code} {}", reason(code));
        content_type = "application/json";
        answer
    } else {
        if is_post {
            return respond_status(&mut conn, 404);
        }
        if let Some(Fault::Status(code)) = fault {
            return respond_status(&mut conn, code);
        }
        let decoded = percent_decode(&path);
        if decoded.split('/').any(|seg| seg == "..") {
            return respond_status(&mut conn, 403);
        }
        let file = s.root.join(decoded.trim_start_matches('/'));
        let Ok(data) = std::fs::read(&file) else {
            return respond_status(&mut conn, 404);
        };
        data
    };
    if let Some(Fault::FlipByte(at)) = fault {
        if let Some(b) = data.get_mut(at as usize) {
            *b ^= 0xff;
        }
    }
    let len = data.len() as u64;
    let mut start = 0u64;
    let mut extra = String::new();
    let ranges = !is_post && s.ranges.load(Ordering::SeqCst);
    if let (Some(r), true) = (&range, ranges) {
        if let Some(first) = parse_range_start(r) {
            if first >= len {
                let head = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                return conn.write_all(head.as_bytes());
            }
            start = first;
            status = "206 Partial Content".to_owned();
            extra = format!("Content-Range: bytes {first}-{}/{len}\r\n", len - 1);
        }
    }
    let body = &data[start as usize..];
    let length_header = match fault {
        Some(Fault::Endless) => String::new(),
        Some(Fault::AnnounceLength(n)) => format!("Content-Length: {n}\r\n"),
        _ => format!("Content-Length: {}\r\n", body.len()),
    };
    let accept = if is_post {
        ""
    } else {
        "Accept-Ranges: bytes\r\n"
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{accept}{extra}{length_header}Connection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes())?;
    let record = |n: u64| {
        s.state.lock().unwrap().sent.insert(path.clone(), n);
    };
    match fault {
        Some(Fault::StallAfterHeaders) => {
            conn.flush()?;
            while !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        Some(Fault::StallAfter(n)) => {
            let n = (n as usize).min(body.len());
            conn.write_all(&body[..n])?;
            record(n as u64);
            conn.flush()?;
            while !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        Some(Fault::Trickle(every)) => {
            for (i, byte) in body.iter().enumerate() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                // A write to a connection the client closed fails (at the latest the second
                // one, after the peer's reset): the thread ends then.
                conn.write_all(std::slice::from_ref(byte))?;
                conn.flush()?;
                record(i as u64 + 1);
                std::thread::sleep(every);
            }
            Ok(())
        }
        Some(Fault::CloseAfter(n)) => {
            let n = (n as usize).min(body.len());
            conn.write_all(&body[..n])?;
            record(n as u64);
            conn.flush()?;
            conn.shutdown(std::net::Shutdown::Both)
        }
        Some(Fault::Endless | Fault::AnnounceLength(_)) => {
            let mut sent = 0u64;
            let result = (|| {
                conn.write_all(body)?;
                sent += body.len() as u64;
                record(sent);
                let junk = vec![b'x'; 64 * 1024];
                while !s.stop.load(Ordering::SeqCst) {
                    conn.write_all(&junk)?;
                    sent += junk.len() as u64;
                    record(sent);
                }
                Ok(())
            })();
            record(sent);
            result
        }
        _ => {
            conn.write_all(body)?;
            record(body.len() as u64);
            conn.flush()
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond_status(conn: &mut TcpStream, code: u16) -> std::io::Result<()> {
    let reason = reason(code);
    let body = format!("{code} {reason}\n");
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes())
}

/// `bytes=N-` or `bytes=N-M` (the end is ignored: the rest of the file is sent).
fn parse_range_start(v: &str) -> Option<u64> {
    let spec = v.strip_prefix("bytes=")?;
    let (first, _) = spec.split_once('-')?;
    first.trim().parse().ok()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
