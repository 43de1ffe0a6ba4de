//! netload: the native load client and the native ceiling servers of benches/net_bench.py.
//!
//! ```text
//! netload echo --addr HOST:PORT --conns N --size BYTES --duration S [--warmup S]
//!              [--threads T] [--pid SERVER_PID]
//! netload http --addr HOST:PORT --conns N --duration S [--warmup S] [--threads T]
//!              [--pid SERVER_PID] [--path /]
//! netload tls-echo|https ...         (the same over TLS; built with `--features tls`)
//! netload echo-server [--host 127.0.0.1] [--port 0]
//! netload http-server [--host 127.0.0.1] [--port 0]
//! netload http-echo-server [--host 127.0.0.1] [--port 0] [--cert PEM --key PEM]
//! ```
//!
//! The clients keep N connections busy, one request in flight on each: `echo` sends SIZE
//! bytes and waits for exactly those bytes back (checked byte for byte), `http` sends
//! `GET / HTTP/1.1` with keep-alive and reads a `Content-Length` response (status 200
//! required). Connections are spread over T threads (default 1), each a single-threaded
//! epoll loop over non-blocking sockets. Only requests completed inside the measurement
//! window (after the warm-up) count. The client prints one JSON line: requests/s, MiB/s,
//! latency percentiles and the CPU seconds the client and (with `--pid`) the server used
//! during the window, both read from `/proc/PID/stat`, and those of every process on the
//! machine (`/proc/stat`), so that a busy machine shows. Any connection error, short or
//! wrong echo, or a malformed response ends the run with `{"error": ...}` and exit 1.
//!
//! The servers are one thread, one epoll loop, non-blocking sockets: the ceiling a loop
//! could reach on this machine. `echo-server` writes back what it reads (reading stops
//! while a write is pending); `http-server` answers each request head with the same
//! fixed `Hello, World!` response the Python HTTP server sends. Both print `{"port": N}`
//! once listening and serve until killed.
//!
//! `http-echo-server` (`httpd.rs`, one thread per connection) answers POST bodies with
//! themselves and GETs with `Hello, World!`, plain or over TLS: the server of
//! benches/http_client_bench.py.
//!
//! `tls-echo` and `https` are `echo` and `http` over TLS (rustls, any server certificate
//! accepted), one blocking connection per thread; see `tls.rs`.
//!
//! std only by default: epoll is reached through three `extern "C"` declarations of the
//! libc functions std already links against. The TLS modes (and `http-echo-server`'s
//! `--cert`) need the `tls` feature.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod epoll {
    //! The smallest epoll binding that works: level-triggered interest, u64 tokens.

    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::raw::c_int;

    pub const IN: u32 = 0x001;
    pub const OUT: u32 = 0x004;
    const EPOLL_CLOEXEC: c_int = 0o2_000_000;
    const CTL_ADD: c_int = 1;
    const CTL_DEL: c_int = 2;
    const CTL_MOD: c_int = 3;

    /// `struct epoll_event`, which the kernel packs on x86_64 only.
    #[cfg_attr(target_arch = "x86_64", repr(C, packed))]
    #[cfg_attr(not(target_arch = "x86_64"), repr(C))]
    #[derive(Clone, Copy)]
    pub struct Event {
        events: u32,
        data: u64,
    }

    impl Event {
        pub const ZERO: Event = Event { events: 0, data: 0 };

        pub fn token(&self) -> u64 {
            self.data
        }
    }

    unsafe extern "C" {
        fn epoll_create1(flags: c_int) -> c_int;
        fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut Event) -> c_int;
        fn epoll_wait(epfd: c_int, events: *mut Event, maxevents: c_int, timeout: c_int) -> c_int;
    }

    pub struct Epoll {
        fd: OwnedFd,
    }

    impl Epoll {
        pub fn new() -> io::Result<Epoll> {
            // SAFETY: epoll_create1 takes no pointers; failure is a negative return with
            // errno set, checked below.
            let fd = unsafe { epoll_create1(EPOLL_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: fd is a descriptor epoll_create1 just returned; nothing else owns
            // it, so OwnedFd may close it exactly once.
            Ok(Epoll {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
            })
        }

        fn ctl(&self, op: c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
            let mut event = Event {
                events,
                data: token,
            };
            // SAFETY: `event` is a live, correctly laid out epoll_event for the whole
            // call; the kernel copies it and keeps no pointer to it.
            let rc = unsafe { epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
            self.ctl(CTL_ADD, fd, events, token)
        }

        pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
            self.ctl(CTL_MOD, fd, events, token)
        }

        pub fn delete(&self, fd: RawFd) -> io::Result<()> {
            self.ctl(CTL_DEL, fd, 0, 0)
        }

        /// Ready events into `events`; 0 on timeout or EINTR.
        pub fn wait(&self, events: &mut [Event], timeout_ms: i32) -> io::Result<usize> {
            let max = events.len().min(c_int::MAX as usize) as c_int;
            // SAFETY: `events` is a mutable slice of at least `max` epoll_event slots that
            // outlives the call; the kernel writes at most `max` of them.
            let n =
                unsafe { epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
            if n < 0 {
                let err = io::Error::last_os_error();
                return if err.kind() == io::ErrorKind::Interrupted {
                    Ok(0)
                } else {
                    Err(err)
                };
            }
            Ok(n as usize)
        }
    }
}

use epoll::{Epoll, Event};

mod httpd;
mod tls;

const HTTP_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const READ_CHUNK: usize = 65536;
const MAX_HEAD: usize = 64 * 1024;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = argv.first() else {
        eprintln!(
            "usage: netload echo|http|echo-server|http-server|http-echo-server [--option value]..."
        );
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(&argv[1..]) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("netload: {msg}");
            return ExitCode::from(2);
        }
    };
    let result = match mode.as_str() {
        "echo" => run_client(Proto::Echo, false, &opts),
        "http" => run_client(Proto::Http, false, &opts),
        "tls-echo" => run_client(Proto::Echo, true, &opts),
        "https" => run_client(Proto::Http, true, &opts),
        "echo-server" => serve(Proto::Echo, &opts),
        "http-server" => serve(Proto::Http, &opts),
        "http-echo-server" => httpd::serve(&opts),
        other => Err(format!("unknown mode {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            println!("{{\"error\": {}}}", json_str(&msg));
            eprintln!("netload: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `--key value` pairs.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(key) = it.next() {
            let Some(name) = key.strip_prefix("--") else {
                return Err(format!("expected --option, got {key:?}"));
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Opts(map))
    }

    fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.0.get(key).map(String::as_str).unwrap_or(default)
    }

    fn num<T: std::str::FromStr>(&self, key: &str, default: Option<T>) -> Result<T, String> {
        match self.0.get(key) {
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{key}: bad value {text:?}")),
            None => default.ok_or_else(|| format!("--{key} is required")),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Echo,
    Http,
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// utime + stime of a process (all its threads) in seconds, from /proc/PID/stat.
/// The kernel reports them in USER_HZ ticks, which is 100 on every Linux ABI.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// user + nice + system time of all CPUs in seconds, from the first line of /proc/stat:
/// the time any process ran, comparable with the per-process figures above (interrupt
/// time is left out of both).
fn system_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .take(3)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some(ticks.iter().sum::<u64>() as f64 / 100.0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Load client

struct Conn {
    stream: TcpStream,
    /// Bytes of the current request written so far.
    sent: usize,
    reply: Reply,
    out_armed: bool,
    started: Instant,
}

/// The reply to the request in flight, as far as it has arrived.
#[derive(Default)]
struct Reply {
    /// Echo: bytes of the echo received so far.
    got: usize,
    /// HTTP: bytes of the current response received so far.
    buf: Vec<u8>,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    bytes: u64,
    latencies_us: Vec<u32>,
}

impl Tally {
    /// A request started at `started` completed at `now` with `bytes` of reply; it counts
    /// if it completed inside the measurement window.
    fn record(&mut self, plan: &Plan, started: Instant, now: Instant, bytes: usize) {
        if now >= plan.measure_from && now < plan.end {
            self.requests += 1;
            self.bytes += bytes as u64;
            let us = now.duration_since(started).as_micros();
            self.latencies_us.push(us.min(u32::MAX as u128) as u32);
        }
    }
}

struct Plan<'a> {
    proto: Proto,
    request: &'a [u8],
    measure_from: Instant,
    end: Instant,
}

impl Reply {
    /// Take received bytes; Some(bytes) once the reply to `request` is complete.
    fn take(&mut self, proto: Proto, data: &[u8], request: &[u8]) -> io::Result<Option<usize>> {
        match proto {
            Proto::Echo => Ok(self.take_echo(data, request)?.then(|| {
                self.got = 0;
                request.len()
            })),
            Proto::Http => self.take_http(data),
        }
    }

    /// Echo: take received bytes; Ok(true) once the whole request came back.
    fn take_echo(&mut self, data: &[u8], request: &[u8]) -> io::Result<bool> {
        let end = self.got + data.len();
        if end > request.len() {
            return Err(bad_data(format!(
                "echo longer than the {}-byte request ({end} bytes)",
                request.len()
            )));
        }
        if data != &request[self.got..end] {
            let at = self.got
                + data
                    .iter()
                    .zip(&request[self.got..end])
                    .take_while(|(a, b)| a == b)
                    .count();
            return Err(bad_data(format!(
                "echo differs from the request at byte {at}"
            )));
        }
        self.got = end;
        Ok(end == request.len())
    }

    /// HTTP: take received bytes; Ok(Some(response length)) once a response is complete.
    fn take_http(&mut self, data: &[u8]) -> io::Result<Option<usize>> {
        self.buf.extend_from_slice(data);
        let Some(head_end) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > MAX_HEAD {
                return Err(bad_data("response head longer than 64 KiB".into()));
            }
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("");
        if !(status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200")) {
            return Err(bad_data(format!("unexpected status line {status:?}")));
        }
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection")
                && value.trim().eq_ignore_ascii_case("close")
            {
                return Err(bad_data("server answered Connection: close".into()));
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad_data("chunked responses are not supported".into()));
            }
        }
        let Some(length) = length else {
            return Err(bad_data("response without a valid Content-Length".into()));
        };
        let total = head_end + 4 + length;
        if self.buf.len() < total {
            return Ok(None);
        }
        if self.buf.len() > total {
            return Err(bad_data(
                "bytes after the response with one request in flight".into(),
            ));
        }
        self.buf.clear();
        Ok(Some(total))
    }
}

impl Conn {
    /// Write what can be written, read what has arrived, start the next request when one
    /// completes. `fresh`: a request was just started, so do not expect a reply yet.
    fn pump(
        &mut self,
        ep: &Epoll,
        token: u64,
        plan: &Plan,
        scratch: &mut [u8],
        tally: &mut Tally,
        mut fresh: bool,
    ) -> io::Result<()> {
        let request = plan.request;
        loop {
            while self.sent < request.len() {
                match self.stream.write(&request[self.sent..]) {
                    Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "write returned 0")),
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if fresh && self.sent == request.len() {
                break; // the reply cannot be there yet: wait for epoll
            }
            fresh = false;
            let n = match self.stream.read(scratch) {
                Ok(0) => {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let done = self.reply.take(plan.proto, &scratch[..n], request)?;
            if let Some(bytes) = done {
                let now = Instant::now();
                tally.record(plan, self.started, now, bytes);
                self.sent = 0;
                self.started = now;
                fresh = true;
            } else if n < scratch.len() && self.sent == request.len() {
                break; // most likely drained; level-triggered epoll reports any rest
            }
        }
        let want_out = self.sent < request.len();
        if want_out != self.out_armed {
            let events = epoll::IN | if want_out { epoll::OUT } else { 0 };
            ep.modify(self.stream.as_raw_fd(), events, token)?;
            self.out_armed = want_out;
        }
        Ok(())
    }
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

/// One client thread: `conns` connections in one epoll loop until `plan.end`.
fn client_thread(
    addr: SocketAddr,
    first_index: usize,
    stride: usize,
    conns: usize,
    plan: &Plan,
    failed: &AtomicBool,
) -> Result<Tally, String> {
    let ep = Epoll::new().map_err(|e| format!("epoll_create1: {e}"))?;
    let mut list = Vec::with_capacity(conns);
    for k in 0..conns {
        let index = first_index + k * stride;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connection {index}: connect to {addr}: {e}"))?;
        let setup = || -> io::Result<()> {
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            ep.add(stream.as_raw_fd(), epoll::IN, k as u64)
        };
        setup().map_err(|e| format!("connection {index}: setup: {e}"))?;
        list.push(Conn {
            stream,
            sent: 0,
            reply: Reply::default(),
            out_armed: false,
            started: Instant::now(),
        });
    }
    let mut scratch = vec![0u8; READ_CHUNK];
    let mut tally = Tally::default();
    let fail = |k: usize, e: io::Error, tally: &Tally| {
        failed.store(true, Ordering::Relaxed);
        format!(
            "connection {}: {e} (after {} measured requests on this thread)",
            first_index + k * stride,
            tally.requests
        )
    };
    for (k, conn) in list.iter_mut().enumerate() {
        conn.started = Instant::now();
        conn.pump(&ep, k as u64, plan, &mut scratch, &mut tally, true)
            .map_err(|e| fail(k, e, &tally))?;
    }
    let mut events = vec![Event::ZERO; 256];
    loop {
        let now = Instant::now();
        if now >= plan.end || failed.load(Ordering::Relaxed) {
            break;
        }
        let left_ms = (plan.end - now).as_millis().clamp(1, 100) as i32;
        let ready = ep
            .wait(&mut events, left_ms)
            .map_err(|e| format!("epoll_wait: {e}"))?;
        for event in &events[..ready] {
            let k = event.token() as usize;
            list[k]
                .pump(&ep, k as u64, plan, &mut scratch, &mut tally, false)
                .map_err(|e| fail(k, e, &tally))?;
        }
    }
    Ok(tally)
}

fn run_client(proto: Proto, tls: bool, opts: &Opts) -> Result<(), String> {
    let addr_text = opts.str_or("addr", "");
    let addr = addr_text
        .to_socket_addrs()
        .map_err(|e| format!("--addr {addr_text:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr_text:?}: no address"))?;
    let conns: usize = opts.num("conns", Some(1))?;
    let duration: f64 = opts.num("duration", Some(3.0))?;
    let warmup: f64 = opts.num("warmup", Some(0.5))?;
    // TLS connections are blocking, one thread each.
    let threads: usize = if tls {
        conns
    } else {
        opts.num::<usize>("threads", Some(1))?
            .clamp(1, conns.max(1))
    };
    let tls_config = if tls {
        Some(tls::client_config()?)
    } else {
        None
    };
    let size: usize = if proto == Proto::Echo {
        opts.num("size", None)?
    } else {
        0
    };
    let pid = opts.0.get("pid").cloned();
    if conns == 0 || duration <= 0.0 || warmup < 0.0 || (proto == Proto::Echo && size == 0) {
        return Err("--conns, --duration and --size must be positive".into());
    }
    let request: Vec<u8> = match proto {
        Proto::Echo => (0..size).map(|i| (i % 251) as u8).collect(),
        Proto::Http => format!(
            "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
            opts.str_or("path", "/")
        )
        .into_bytes(),
    };

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(duration);
    let plan = Plan {
        proto,
        request: &request,
        measure_from,
        end,
    };
    let failed = AtomicBool::new(false);

    let (results, cpu) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine = (conns - t).div_ceil(threads);
                let (plan, failed) = (&plan, &failed);
                let tls_config = tls_config.clone();
                scope.spawn(move || match tls_config {
                    Some(config) => tls::client_thread(addr, t, config, plan, failed),
                    None => client_thread(addr, t, threads, mine, plan, failed),
                })
            })
            .collect();
        // CPU snapshots at the edges of the measurement window.
        sleep_until(measure_from, &failed);
        let before = (
            cpu_seconds("self"),
            pid.as_deref().and_then(cpu_seconds),
            system_cpu_seconds(),
        );
        sleep_until(end, &failed);
        let after = (
            cpu_seconds("self"),
            pid.as_deref().and_then(cpu_seconds),
            system_cpu_seconds(),
        );
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect();
        (results, (before, after))
    });

    let mut total = Tally::default();
    for result in results {
        let tally = result?;
        total.requests += tally.requests;
        total.bytes += tally.bytes;
        total.latencies_us.extend(tally.latencies_us);
    }
    if total.requests == 0 {
        return Err("no request completed in the measurement window".into());
    }
    let ((cpu_self0, cpu_srv0, cpu_all0), (cpu_self1, cpu_srv1, cpu_all1)) = cpu;
    let delta = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.3}", b - a),
        _ => "null".into(),
    };
    total.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let lat = &total.latencies_us;
        lat[((lat.len() - 1) as f64 * p).round() as usize]
    };
    let mode = match (proto, tls) {
        (Proto::Echo, false) => "echo",
        (Proto::Http, false) => "http",
        (Proto::Echo, true) => "tls-echo",
        (Proto::Http, true) => "https",
    };
    println!(
        "{{\"mode\": \"{mode}\", \"conns\": {conns}, \"size\": {size}, \"threads\": {threads}, \
         \"seconds\": {duration:.3}, \"requests\": {}, \"rps\": {:.1}, \"mib_s\": {:.2}, \
         \"p50_us\": {}, \"p99_us\": {}, \"client_cpu_s\": {}, \"server_cpu_s\": {}, \
         \"system_cpu_s\": {}}}",
        total.requests,
        total.requests as f64 / duration,
        total.bytes as f64 / duration / (1024.0 * 1024.0),
        pct(0.50),
        pct(0.99),
        delta(cpu_self0, cpu_self1),
        delta(cpu_srv0, cpu_srv1),
        delta(cpu_all0, cpu_all1),
    );
    Ok(())
}

/// Sleep until `when`, returning early once a client thread failed.
fn sleep_until(when: Instant, failed: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= when || failed.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((when - now).min(Duration::from_millis(50)));
    }
}

// ---------------------------------------------------------------------------------------
// Ceiling servers

const LISTENER: u64 = u64::MAX;

struct Peer {
    stream: TcpStream,
    /// Bytes still to write; while non-empty the peer is not read (back-pressure).
    pending: Vec<u8>,
    /// HTTP: an incomplete request head.
    inbuf: Vec<u8>,
}

/// Write as much of `data` as the socket takes; the number of bytes written.
fn write_some(stream: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match stream.write(&data[done..]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "write returned 0")),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Peer {
    /// Handle readiness; Ok(false) when the peer is finished and should be dropped.
    fn ready(
        &mut self,
        proto: Proto,
        ep: &Epoll,
        token: u64,
        buf: &mut [u8],
        out: &mut Vec<u8>,
    ) -> io::Result<bool> {
        if !self.pending.is_empty() {
            let n = write_some(&mut self.stream, &self.pending)?;
            self.pending.drain(..n);
            if !self.pending.is_empty() {
                return Ok(true);
            }
            ep.modify(self.stream.as_raw_fd(), epoll::IN, token)?;
        }
        loop {
            let n = match self.stream.read(buf) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let reply: &[u8] = match proto {
                Proto::Echo => &buf[..n],
                Proto::Http => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    out.clear();
                    let mut start = 0;
                    while let Some(at) = find(&self.inbuf[start..], b"\r\n\r\n") {
                        start += at + 4;
                        out.extend_from_slice(HTTP_RESPONSE);
                    }
                    self.inbuf.drain(..start);
                    if self.inbuf.len() > MAX_HEAD {
                        return Err(bad_data("request head longer than 64 KiB".into()));
                    }
                    out.as_slice()
                }
            };
            let written = write_some(&mut self.stream, reply)?;
            if written < reply.len() {
                self.pending.extend_from_slice(&reply[written..]);
                ep.modify(self.stream.as_raw_fd(), epoll::OUT, token)?;
                return Ok(true);
            }
            if n < buf.len() {
                return Ok(true); // most likely drained; level-triggered epoll reports any rest
            }
        }
    }
}

fn serve(proto: Proto, opts: &Opts) -> Result<(), String> {
    let host = opts.str_or("host", "127.0.0.1");
    let port: u16 = opts.num("port", Some(0))?;
    let listener =
        TcpListener::bind((host, port)).map_err(|e| format!("bind {host}:{port}: {e}"))?;
    let setup = || -> io::Result<(Epoll, u16)> {
        listener.set_nonblocking(true)?;
        let ep = Epoll::new()?;
        ep.add(listener.as_raw_fd(), epoll::IN, LISTENER)?;
        Ok((ep, listener.local_addr()?.port()))
    };
    let (ep, port) = setup().map_err(|e| format!("listen: {e}"))?;
    println!("{{\"port\": {port}}}");
    io::stdout().flush().map_err(|e| format!("stdout: {e}"))?;

    let mut peers: HashMap<u64, Peer> = HashMap::new();
    let mut next_token: u64 = 0;
    let mut buf = vec![0u8; READ_CHUNK];
    let mut out = Vec::new();
    let mut events = vec![Event::ZERO; 256];
    loop {
        let ready = ep
            .wait(&mut events, -1)
            .map_err(|e| format!("epoll_wait: {e}"))?;
        for event in &events[..ready] {
            let token = event.token();
            if token == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let registered = stream
                                .set_nonblocking(true)
                                .and_then(|()| stream.set_nodelay(true))
                                .and_then(|()| ep.add(stream.as_raw_fd(), epoll::IN, next_token));
                            if registered.is_ok() {
                                let peer = Peer {
                                    stream,
                                    pending: Vec::new(),
                                    inbuf: Vec::new(),
                                };
                                peers.insert(next_token, peer);
                                next_token += 1;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            eprintln!("netload: accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let keep = match peers.get_mut(&token) {
                Some(peer) => peer
                    .ready(proto, &ep, token, &mut buf, &mut out)
                    .unwrap_or(false),
                None => continue,
            };
            if !keep {
                if let Some(peer) = peers.remove(&token) {
                    let _ = ep.delete(peer.stream.as_raw_fd());
                }
            }
        }
    }
}
