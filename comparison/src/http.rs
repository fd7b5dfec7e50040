//! The `http` workload: a real server under a real client.
//!
//! Each backend gets a server process of its own (this executable, hidden subcommand
//! `serve`): may_minihttp on 127.0.0.1, one coroutine per connection, spawned by
//! may_minihttp, not by this crate. Its handler looks up the connection coroutine's
//! strand once per request (`Strand::with_current`), makes the request's method, path,
//! query and headers strand values, builds the JSON body that echoes them as strand
//! values, and copies that body once into may_minihttp's response buffer
//! (`Strand::write_out`, counted as a copy): the boundary between the runtime's values
//! and the server's bytes.
//!
//! The comparison first checks the server's answers with a plain HTTP client (status and
//! every field of the JSON body, headers with quotes and backslashes included), then
//! loads it with wrk for a fixed time and connection count, with a Lua `response` hook
//! that counts every answer that is not a 200 echo, and last asks the server for its
//! figures. wrk is the Debian package; when it is missing the comparison tries to install
//! it (`apt-get`), and when that fails it says so and skips the workload.

use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use strand_alloc::backends::{self, BackendVisitor};
use strand_alloc::{Config, FullFigures, SchedulerConfig, Strand, Value, ValueAllocator};

/// Tags of the request's strand values.
const REQUEST: u32 = 1;
const HEADER: u32 = 2;
const HEADERS: u32 = 3;
const BODY: u32 = 4;

/// The path the server answers with its figures, outside any strand.
const STATS_PATH: &str = "/__strand_alloc_stats";

/// Requests answered so far, for the figures per request.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// The echo service: one per connection (may_minihttp clones it), with a scratch buffer
/// for JSON escaping that is reused from request to request.
struct Echo<A> {
    scratch: String,
    _backend: std::marker::PhantomData<fn() -> A>,
}

impl<A> Clone for Echo<A> {
    fn clone(&self) -> Self {
        Echo {
            scratch: String::new(),
            _backend: std::marker::PhantomData,
        }
    }
}

/// Appends `text` to `out` as the inside of a JSON string.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

impl<A: ValueAllocator> Echo<A> {
    /// The request as strand values: `REQUEST(method, path, query, HEADERS(HEADER(name,
    /// value)...))`.
    fn request<'s>(s: &'s Strand<A>, req: &may_minihttp::Request) -> Value<'s, A> {
        let (path, query) = req.path().split_once('?').unwrap_or((req.path(), ""));
        let headers = req.headers();
        let headers = s.variant(
            HEADERS,
            headers.iter().map(|h| {
                s.variant(HEADER, [s.str(h.name).into(), s.bytes(h.value).into()])
                    .into()
            }),
        );
        s.variant(
            REQUEST,
            [
                s.str(req.method()).into(),
                s.str(path).into(),
                s.str(query).into(),
                headers.into(),
            ],
        )
        .into()
    }

    /// The JSON echo of a request value, as strand string fragments in one variant.
    fn body<'s>(&mut self, s: &'s Strand<A>, request: &Value<'s, A>) -> Value<'s, A> {
        let f = request.as_variant().expect("a request value").fields();
        let mut parts: Vec<Value<'s, A>> = Vec::with_capacity(16);
        let string = |parts: &mut Vec<Value<'s, A>>, scratch: &mut String, text: &str| {
            scratch.clear();
            scratch.push('"');
            escape(scratch, text);
            scratch.push('"');
            parts.push(s.str(scratch).into());
        };
        let text = |v: &Value<'s, A>| -> String {
            match v {
                Value::Str(x) => x.as_str().to_owned(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            }
        };
        parts.push(s.str("{\"method\":").into());
        string(&mut parts, &mut self.scratch, &text(&f[0]));
        parts.push(s.str(",\"path\":").into());
        string(&mut parts, &mut self.scratch, &text(&f[1]));
        parts.push(s.str(",\"query\":").into());
        string(&mut parts, &mut self.scratch, &text(&f[2]));
        parts.push(s.str(",\"headers\":[").into());
        let headers = f[3].as_variant().expect("a headers value").fields();
        for (i, h) in headers.iter().enumerate() {
            let h = h.as_variant().expect("a header value").fields();
            parts.push(s.str(if i == 0 { "[" } else { ",[" }).into());
            string(&mut parts, &mut self.scratch, &text(&h[0]));
            parts.push(s.str(",").into());
            string(&mut parts, &mut self.scratch, &text(&h[1]));
            parts.push(s.str("]").into());
        }
        parts.push(s.str("]}").into());
        s.variant(BODY, parts).into()
    }
}

impl<A: ValueAllocator> may_minihttp::HttpService for Echo<A> {
    fn call(
        &mut self,
        req: may_minihttp::Request,
        rsp: &mut may_minihttp::Response,
    ) -> std::io::Result<()> {
        rsp.header("Content-Type: application/json");
        if req.path() == STATS_PATH {
            let figures = ServerFigures {
                answered: ANSWERED.load(Ordering::Relaxed),
                stats: strand_alloc::stats::<A>(),
            };
            let json = serde_json::to_vec(&figures).map_err(std::io::Error::other)?;
            rsp.body_vec(json);
            return Ok(());
        }
        let body = rsp.body_mut();
        let written = Strand::<A>::with_current(|s| {
            let request = Self::request(s, &req);
            let out = self.body(s, &request);
            let mut w = bytes::BufMut::writer(body);
            s.write_out(&out, &mut w)
        })
        .map_err(std::io::Error::other)??;
        debug_assert!(written > 0);
        ANSWERED.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// What the server reports about itself.
#[derive(Serialize, serde::Deserialize)]
struct ServerFigures {
    answered: u64,
    stats: strand_alloc::StatsSnapshot,
}

/// The server process: `serve --backend B --threshold T --workers W --port P`. Prints
/// `listening` once the socket is bound, serves until its standard input closes (the
/// comparison ends it, or died).
pub fn serve(args: &crate::cli::ServeArgs) -> std::process::ExitCode {
    match serve_inner(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Start {
    port: u16,
    full: bool,
}

impl BackendVisitor for Start {
    type Output = std::io::Result<may::coroutine::JoinHandle<()>>;
    fn visit<A: ValueAllocator>(&mut self) -> Self::Output {
        if self.full {
            self.start::<FullFigures<A>>()
        } else {
            self.start::<A>()
        }
    }
}

impl Start {
    fn start<A: ValueAllocator>(&self) -> std::io::Result<may::coroutine::JoinHandle<()>> {
        let echo = Echo::<A> {
            scratch: String::new(),
            _backend: std::marker::PhantomData,
        };
        may_minihttp::HttpServer(echo).start(("127.0.0.1", self.port))
    }
}

fn serve_inner(args: &crate::cli::ServeArgs) -> Result<(), String> {
    SchedulerConfig::default()
        .with_workers(args.workers)
        .and_then(|s| s.apply())
        .map_err(|e| e.to_string())?;
    Config::default()
        .with_threshold(args.threshold)
        .map_err(|e| e.to_string())?
        .install();
    let mut start = Start {
        port: args.port,
        full: args.full_figures,
    };
    let server = backends::visit(args.backend, &mut start)
        .ok_or_else(|| format!("backend {} is not compiled in", args.backend))?
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    println!("listening");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    // Serve until the comparison closes our standard input (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    // SAFETY: the server coroutine is parked in `accept`; cancelling it there drops only
    // its listener and its service.
    unsafe { server.coroutine().cancel() };
    Ok(())
}

/// How the `http` workload runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Load {
    /// How long wrk loads each server.
    pub seconds: u64,
    /// wrk's open connections.
    pub connections: usize,
    /// wrk's threads.
    pub threads: usize,
}

impl Load {
    pub fn new(quick: bool) -> Load {
        if quick {
            Load {
                seconds: 2,
                connections: 16,
                threads: 1,
            }
        } else {
            Load {
                seconds: 5,
                connections: 64,
                threads: 2,
            }
        }
    }
}

/// One backend's result under wrk.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRow {
    pub backend: String,
    pub threshold: usize,
    /// Requests wrk completed.
    pub requests: u64,
    pub requests_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Responses that were not a 200 echo (wrk's `response` hook) and wrk's socket and
    /// status errors.
    pub bad_responses: u64,
    pub errors: u64,
    /// Answers checked field by field before the load, on both servers (the production
    /// level's and the full level's).
    pub checked: u64,
    /// The server process's peak RSS (VmHWM), bytes.
    pub peak_rss: u64,
    /// Strands (connection coroutines) that allocated, and their figures.
    pub strands: u64,
    pub migrations: u64,
    pub peak_stranded: i64,
    pub allocs_per_request: f64,
    pub copied_bytes_per_request: f64,
}

/// The `http` figures' definitions, printed under its table.
pub const DEFINITIONS: [(&str, &str); 7] = [
    ("req/s", "requests wrk completed per second over the load, all connections together"),
    ("p50, p99", "wrk's latency percentiles per request (from sending to the whole answer)"),
    ("peak RSS", "the server process's peak resident set (VmHWM), its start-up included"),
    ("migrations", "allocations made on a different OS thread than the strand's previous one, summed over the connection strands"),
    ("stranded", "the sum over connection strands of each one's peak bytes of live values in another thread's arena"),
    ("allocs/req", "strand allocations per answered request (the request's values and the body's fragments)"),
    ("bad", "answers that were not a 200 JSON echo, plus wrk's socket and status errors; must be 0"),
];

/// Whether `backend` can serve: a safe backend compiled in (the seed policy makes no
/// current strands), or the mimalloc baseline.
pub fn can_serve(backend: &str) -> bool {
    struct Safe;
    impl BackendVisitor for Safe {
        type Output = bool;
        fn visit<A: ValueAllocator>(&mut self) -> bool {
            A::SAFE
        }
    }
    #[cfg(feature = "mimalloc")]
    if backend == crate::mimalloc_baseline::NAME {
        return true;
    }
    backends::visit(backend, &mut Safe).unwrap_or(false)
}

/// Finds wrk, installing it with apt-get when it is missing and that is possible.
pub fn find_wrk() -> Result<PathBuf, String> {
    let works = |p: &str| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if works("wrk") {
        return Ok("wrk".into());
    }
    let tried = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if works("wrk") {
        return Ok("wrk".into());
    }
    Err(format!(
        "wrk is not installed and could not be installed ({}); install the Debian package \
         `wrk` (for example `sudo apt-get install wrk`) to run it",
        match tried {
            Ok(s) => format!("apt-get install wrk ended with {s}"),
            Err(e) => format!("apt-get could not run: {e}"),
        }
    ))
}

/// The wrk script: varied requests, every answer checked for a 200 JSON echo, and one
/// summary line at the end.
const WRK_SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  bad = 0
end
function request()
  n = n + 1
  return wrk.format("GET", "/echo/" .. n .. "?q=" .. n, { ["X-Load"] = "v" .. n })
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '{"method":"GET","path":"/echo/', 1, true)
     or not string.find(body, '"X-Load","v', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("STRAND_ALLOC %d %d %d %d %d %d\n", summary.requests,
    summary.duration, b, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// A free port on 127.0.0.1 (bound and released; the server binds it right after).
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(
        backend: &str,
        threshold: usize,
        workers: usize,
        full: bool,
    ) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut last = String::new();
        // A port taken between `free_port` and the bind: try another.
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = Command::new(&exe);
            #[allow(unused_mut)]
            let mut serves = backend;
            #[cfg(feature = "mimalloc")]
            if backend == crate::mimalloc_baseline::NAME {
                cmd.env(crate::mimalloc_baseline::ENV, "1");
                serves = strand_alloc::GlobalMalloc::NAME;
            }
            let mut child = cmd
                .args(["serve", "--backend", serves])
                .args(["--threshold", &threshold.to_string()])
                .args(["--workers", &workers.to_string()])
                .args(["--port", &port.to_string()])
                .args(full.then_some("--full-figures"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start the server: {e}"))?;
            let stdout = child.stdout.take().expect("piped");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            });
            let server = Server { child, port };
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.trim() == "listening" => return Ok(server),
                _ => {
                    let mut server = server;
                    let _ = server.child.kill();
                    let mut err = String::new();
                    if let Some(mut e) = server.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    last = err.trim().to_string();
                }
            }
        }
        Err(format!("the {backend} server did not start: {last}"))
    }

    /// One request on a fresh connection: the status and the body.
    fn get(&self, target: &str, extra: &str) -> Result<(u16, String), String> {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(
            c,
            "GET {target} HTTP/1.1\r\nHost: strand-alloc\r\n{extra}\r\n"
        )
        .map_err(|e| e.to_string())?;
        read_response(&mut BufReader::new(c))
    }

    fn figures(&self) -> Result<ServerFigures, String> {
        let (status, body) = self.get(STATS_PATH, "")?;
        if status != 200 {
            return Err(format!("the server's figures: status {status}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("the server's figures: {e}"))
    }

    /// The figures once every connection's strand has ended. At the production level a
    /// running strand's counts are as of its last publication (`strand_alloc::stats`),
    /// and a connection's coroutine ends a little after its client closes; an ended
    /// strand's counts are exact, so figures read then count every answered request.
    fn settled_figures(&self) -> Result<ServerFigures, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let figures = self.figures()?;
            if figures.stats.live_strands == 0 {
                return Ok(figures);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} strands of the server still ran 10 s after its clients closed",
                    figures.stats.live_strands
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn peak_rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(0, |kib| kib * 1024)
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body.
fn read_response(r: &mut impl BufRead) -> Result<(u16, String), String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let n = length.ok_or("no Content-Length")?;
    let mut body = vec![0; n];
    r.read_exact(&mut body).map_err(|e| e.to_string())?;
    String::from_utf8(body)
        .map_err(|e| e.to_string())
        .map(|b| (status, b))
}

/// Checks `n` answers field by field against what was sent: method, path, query and
/// every header, values with quotes and backslashes included.
fn check_answers(server: &Server, n: u64) -> Result<u64, String> {
    for i in 0..n {
        let target = format!("/check/{i}?a={i}&b=x%22y");
        let tricky = format!("q\"{i}\\z");
        let (status, body) = server.get(&target, &format!("X-Check: {tricky}\r\n"))?;
        let got: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("answer {i} is not JSON ({e}): {body}"))?;
        let expected = serde_json::json!({
            "method": "GET",
            "path": format!("/check/{i}"),
            "query": format!("a={i}&b=x%22y"),
            "headers": [["Host", "strand-alloc"], ["X-Check", tricky]],
        });
        if status != 200 || got != expected {
            return Err(format!(
                "answer {i} is wrong: status {status}, body {body}, expected {expected}"
            ));
        }
    }
    Ok(n)
}

/// Runs wrk against `server`; returns (requests, seconds, bad, errors, p50 µs, p99 µs).
fn load(wrk: &PathBuf, server: &Server, l: Load) -> Result<[f64; 6], String> {
    let script = std::env::temp_dir().join(format!("strand-alloc-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, WRK_SCRIPT).map_err(|e| format!("cannot write the wrk script: {e}"))?;
    let mut child = Command::new(wrk)
        .args(["-t", &l.threads.to_string()])
        .args(["-c", &l.connections.to_string()])
        .args(["-d", &format!("{}s", l.seconds)])
        .arg("-s")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}/", server.port))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    // wrk ends itself after the duration; a hung one is killed, never waited on forever.
    let deadline = Instant::now() + Duration::from_secs(l.seconds + 30);
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("wrk did not finish in time and was stopped".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("STRAND_ALLOC "))
        .ok_or_else(|| {
            format!(
                "wrk printed no summary: {}{}",
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| {
            x.parse::<f64>()
                .map_err(|e| format!("wrk's summary {line:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let [requests, micros, bad, errors, p50, p99] = v[..] else {
        return Err(format!("wrk's summary has {} fields: {line:?}", v.len()));
    };
    Ok([requests, micros / 1e6, bad, errors, p50, p99])
}

/// Runs the workload on one backend and threshold: served at the production level of
/// figures for the times, peak RSS and allocations, then again under the same load at
/// the full level (`FullFigures`) for the migrations and stranded bytes (in a build with
/// `full-figures`, both are at the full level).
pub fn run_one(
    wrk: &PathBuf,
    backend: &str,
    threshold: usize,
    workers: usize,
    l: Load,
) -> Result<HttpRow, String> {
    let timed = serve_and_load(wrk, backend, threshold, workers, l, false)?;
    let counted = serve_and_load(wrk, backend, threshold, workers, l, true)?;
    Ok(HttpRow {
        checked: timed.checked + counted.checked,
        bad_responses: timed.bad_responses + counted.bad_responses,
        errors: timed.errors + counted.errors,
        migrations: counted.migrations,
        peak_stranded: counted.peak_stranded,
        ..timed
    })
}

/// One server at one level of figures, checked and loaded.
fn serve_and_load(
    wrk: &PathBuf,
    backend: &str,
    threshold: usize,
    workers: usize,
    l: Load,
    full: bool,
) -> Result<HttpRow, String> {
    let server = Server::start(backend, threshold, workers, full)?;
    let checked = check_answers(&server, 50)?;
    let before = server.settled_figures()?;
    let [requests, seconds, bad, errors, p50, p99] = load(wrk, &server, l)?;
    let after = server.settled_figures()?;
    let peak_rss = server.peak_rss();
    drop(server);
    let answered = (after.answered - before.answered).max(1) as f64;
    let (t, b) = (&after.stats.totals, &before.stats.totals);
    Ok(HttpRow {
        backend: backend.to_string(),
        threshold,
        requests: requests as u64,
        requests_per_s: requests / seconds.max(1e-9),
        p50_us: p50,
        p99_us: p99,
        bad_responses: bad as u64,
        errors: errors as u64,
        checked,
        peak_rss,
        strands: t.strands_begun,
        migrations: t.migrations,
        peak_stranded: t.peak_stranded,
        allocs_per_request: (t.allocs - b.allocs) as f64 / answered,
        copied_bytes_per_request: (t.copied_bytes - b.copied_bytes) as f64 / answered,
    })
}

/// The rows as a table.
pub fn render(rows: &[HttpRow], l: Load, width: u16) -> String {
    use crate::report::Column;
    let col = |title: &str, f: &dyn Fn(&HttpRow) -> String| {
        Column::new(title, rows.iter().map(f).collect())
    };
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    let columns = [
        col(
            "backend",
            &|r| match rows.iter().filter(|o| o.backend == r.backend).count() {
                1 => r.backend.clone(),
                _ => format!("{} @ {}", r.backend, mib(r.threshold as u64)),
            },
        ),
        col("req/s", &|r| format!("{:.0}", r.requests_per_s)),
        col("p50", &|r| format!("{:.0} µs", r.p50_us)),
        col("p99", &|r| format!("{:.0} µs", r.p99_us)),
        col("peak RSS", &|r| mib(r.peak_rss)),
        col("migrations", &|r| r.migrations.to_string()),
        col("stranded", &|r| format!("{} B", r.peak_stranded)),
        col("allocs/req", &|r| format!("{:.1}", r.allocs_per_request)),
        col("bad", &|r| (r.bad_responses + r.errors).to_string()),
    ];
    let title = format!(
        "http: a may_minihttp server per backend under wrk for {} s, {}, {} (client and \
         server share the machine); one run each",
        l.seconds,
        crate::report::plural(l.connections, "connection"),
        crate::report::plural(l.threads, "wrk thread"),
    );
    let mut out = String::from("\n");
    out.push_str(&crate::report::wrap(&title, usize::from(width), "", "  "));
    out.push_str(&crate::report::tables(&columns, width));
    out.push_str(&definitions(usize::from(width)));
    out
}

/// What the `http` table's figures mean, wrapped to `width` columns.
pub fn definitions(width: usize) -> String {
    let mut out = crate::report::wrap("The http workload's figures:", width, "", "  ");
    for (name, def) in DEFINITIONS {
        out.push_str(&crate::report::wrap(
            &format!("{name}: {def}"),
            width,
            "  ",
            "      ",
        ));
    }
    out
}
