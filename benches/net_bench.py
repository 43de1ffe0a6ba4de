"""Network benchmarks: TCP echo and HTTP servers on aioxide vs uvloop vs stdlib asyncio.

    python benches/net_bench.py [--loops aioxide,uvloop,asyncio] [--styles sock,...]
                                [--sizes 1024,10240,102400] [--conns 1,10]
                                [--http-conns 10,100] [--duration 3] [--repeat 3] [--quick]

Every measurement starts a fresh server process (benches/net_servers.py, one loop and one
style), drives it with one native load client for --duration seconds after a warm-up, and
stops it. The client is benches/netload (Rust, built here with cargo into
target/netload): the same for every loop, one request in flight per connection. Echo
cells send SIZE bytes and wait for the whole echo; HTTP cells use `wrk` when it is on
PATH, else `netload http`. The TLS cells (issue #4: echo at --tls-sizes over --tls-conns,
HTTPS at --http-conns) use netload's rustls client (`tls-echo`, one thread per
connection) and wrk or `netload https`. Next to the loops, netload's own single-thread epoll servers
give the native ceiling for each echo and HTTP cell.

Each repeat measures every cell once per loop, loops interleaved (rotated each repeat) so
that noise hits them alike; the table shows medians. Server and client CPU (% of one core,
from /proc/PID/stat over the measured window) say which side was the limit. A cell whose
server cannot start (say, a loop without create_server) or whose run fails is reported as
"error" with the reason under the table; a style that cannot run at all (aiohttp not
installed) is "unavailable". Progress goes to stderr, the Markdown report to stdout, raw
numbers to benches/results/net_latest.json. Exit status 1 when any cell failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loops import LOOP_NAMES, names_arg, usable_loops, version_of  # noqa: E402
from report import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NETLOAD_MANIFEST = HERE / "netload" / "Cargo.toml"
NETLOAD_TARGET = ROOT / "target" / "netload"
NETLOAD = NETLOAD_TARGET / "release" / "netload"
SERVERS = HERE / "net_servers.py"
RESULTS = HERE / "results" / "net_latest.json"

ECHO_STYLES = ("sock", "streams", "protocol", "tls")
HTTP_STYLES = ("http", "aiohttp", "https")
TLS_STYLES = ("tls", "https")
STYLE_NAMES = {
    "sock": "raw sock_recv/sock_sendall",
    "streams": "streams",
    "protocol": "Protocol",
    "http": "HTTP on Protocol",
    "aiohttp": "aiohttp.web",
    "tls": "Protocol over TLS",
    "https": "HTTPS on Protocol",
}
NATIVE = "native"
# style -> minimum aioxide/uvloop req/s (issue #3); the plain-Protocol HTTP server has none.
TARGETS = {"sock": 1.8, "streams": 1.3, "protocol": 1.2, "aiohttp": 1.15,
           # issue #4
           "tls": 1.2, "https": 1.2}
# ... or this share of the native server's req/s where the client or the cores are the limit
NATIVE_SHARE = 0.95
CLIENT_BOUND_CPU = 90.0  # % of one core
BUSY_MACHINE_CPU = 15.0  # % of one core used by other processes during a run
HOST = "127.0.0.1"
SERVER_START_TIMEOUT = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class CellFailed(Exception):
    """The measurement failed: the cell shows "error"."""


class CellUnavailable(Exception):
    """This (loop, style) cannot run here at all: the cell shows "unavailable"."""


@dataclass
class Cell:
    kind: str  # "echo" | "http"
    style: str  # an echo/HTTP style, or NATIVE
    conns: int
    size: int = 0  # echo payload bytes
    samples: dict[str, list[dict]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def label(self) -> str:
        size = f" {fmt_size(self.size)}" if self.kind == "echo" else ""
        return f"{self.kind} {self.style}{size} x{self.conns}"

    def median(self, loop: str, key: str = "rps") -> float | None:
        values = [s[key] for s in self.samples.get(loop, []) if s.get(key) is not None]
        return statistics.median(values) if values else None


# --- helpers -----------------------------------------------------------------------------


def fmt_size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, comma-separated")
    return values


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process, all threads, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 1 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def system_cpu_seconds() -> float | None:
    """user + nice + system time of all CPUs (any process), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    return sum(int(v) for v in fields[1:4]) / CLK_TCK


def pinned(cpus: set[int] | None):
    """A preexec_fn that pins the child to ``cpus`` (None: no pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_split(mode: str) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs): with --pin split and two or more usable CPUs, the server
    gets the last one to itself and the client the rest, so the two never share a core
    (on a shared core loopback ping-pong runs at a different speed, and the scheduler
    picks one or the other from run to run)."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if mode == "none" or len(usable) < 2:
        return None, None
    return {usable[-1]}, set(usable[:-1])


def build_netload(tls: bool) -> Path:
    """Build (or find up to date) the load client, with its TLS modes when ``tls`` (they
    need rustls from crates.io); cargo decides whether it is stale."""
    if shutil.which("cargo"):
        env = {**os.environ, "CARGO_TARGET_DIR": str(NETLOAD_TARGET)}
        cmd = ["cargo", "build", "--release", "-j", "1", "--quiet",
               "--manifest-path", str(NETLOAD_MANIFEST)]
        if tls:
            cmd += ["--features", "tls"]
        print(f"building netload: {shlex.join(cmd)}", file=sys.stderr, flush=True)
        subprocess.run(cmd, env=env, check=True)
    if not NETLOAD.exists():
        raise SystemExit(f"netload is not built ({NETLOAD}) and cargo is not on PATH")
    return NETLOAD


# --- one measurement ----------------------------------------------------------------------


class Server:
    """A server subprocess that announced its port with one JSON line on stdout."""

    def __init__(self, cmd: list[str], cpus: set[int] | None):
        self.output: str | None = None
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr,
            preexec_fn=pinned(cpus),
        )
        try:
            self.port = self._wait_for_port()
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CellFailed(f"server did not announce a port in {SERVER_START_TIMEOUT:g} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:  # exited before announcing
                self.proc.wait(timeout=10)
                raise CellFailed(f"server exited {self.proc.returncode}: {self.stderr_tail()}")
            try:
                message = json.loads(line)
            except ValueError:
                continue  # a stray print: keep waiting for the announcement
            if "unavailable" in message:
                raise CellUnavailable(message["unavailable"])
            return int(message["port"])

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return error_summary(self.stderr.read().decode(errors="replace"))

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise CellFailed(f"server died (exit {self.proc.returncode}): {self.stderr_tail()}")

    def stop(self) -> str:
        """Kill the server (once); whatever it wrote to stderr (warnings, logged errors)."""
        if self.output is not None:
            return self.output
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr.seek(0)
        self.output = self.stderr.read().decode(errors="replace").strip()
        self.stderr.close()
        return self.output


def error_summary(stderr: str) -> str:
    """The exception a dying Python process raised: the last line of its traceback, not
    of an "Exception ignored in" report printed during shutdown; else the last line."""
    lines = stderr.strip().splitlines()
    found, ignored = None, False
    for i, line in enumerate(lines):
        if line.startswith("Exception ignored in"):
            ignored = True
        elif (line and not line[0].isspace() and i > 0 and lines[i - 1][:1].isspace()
              and not line.startswith("Traceback")):
            if not ignored:
                found = line  # the last one of a chain is the one that was raised
            ignored = False
    return (found or (lines[-1] if lines else "(no output)"))[:300]


def run_netload(netload: Path, args: list[str], timeout: float, cpus: set[int] | None) -> dict:
    cmd = [str(netload), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=pinned(cpus))
    except subprocess.TimeoutExpired as exc:
        raise CellFailed(f"netload timed out after {timeout:g} s") from exc
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        tail = (proc.stderr or proc.stdout).strip()[-200:]
        raise CellFailed(f"netload exit {proc.returncode}, unreadable output: {tail!r}") from exc
    if "error" in result or proc.returncode != 0:
        raise CellFailed(f"load client: {result.get('error', f'exit {proc.returncode}')}")
    return result


_WRK_RPS = re.compile(r"Requests/sec:\s*([0-9.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)\b")
_WRK_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_LATENCY = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def run_wrk(wrk: str, port: int, conns: int, threads: int, duration: int, pid: int,
            timeout: float, cpus: set[int] | None, tls: bool = False) -> dict:
    """wrk against the server; CPU of the server from /proc, of wrk from rusage."""
    scheme = "https" if tls else "http"
    cmd = [wrk, f"-t{min(threads, conns)}", f"-c{conns}", f"-d{duration}s", "--latency",
           f"{scheme}://{HOST}:{port}/"]
    server_cpu0, system_cpu0 = proc_cpu_seconds(pid), system_cpu_seconds()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=pinned(cpus))
    except subprocess.TimeoutExpired as exc:
        raise CellFailed(f"wrk timed out after {timeout:g} s") from exc
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu1, system_cpu1 = proc_cpu_seconds(pid), system_cpu_seconds()
    out = proc.stdout
    rps = _WRK_RPS.search(out)
    if proc.returncode != 0 or not rps:
        tail = (proc.stderr or out).strip()[-200:]
        raise CellFailed(f"wrk exit {proc.returncode}: {tail!r}")
    problems = []
    if (m := _WRK_SOCKET_ERRORS.search(out)) and any(int(g) for g in m.groups()):
        problems.append(m.group(0))
    if m := _WRK_NON2XX.search(out):
        problems.append(m.group(0))
    if problems:
        raise CellFailed(f"wrk: {'; '.join(problems)}")
    seconds = float(duration)
    if m := _WRK_TOTAL.search(out):
        seconds = float(m.group(2)) * _UNIT_US[m.group(3)] / 1e6
    latency = {p: float(v) * _UNIT_US[u] for p, v, u in _WRK_LATENCY.findall(out)}
    client_cpu = (children1.ru_utime + children1.ru_stime) - (
        children0.ru_utime + children0.ru_stime
    )

    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    return {
        "rps": float(rps.group(1)),
        "seconds": seconds,
        "p50_us": latency.get("50"),
        "p99_us": latency.get("99"),
        "client_cpu_s": client_cpu,
        "server_cpu_s": delta(server_cpu0, server_cpu1),
        "system_cpu_s": delta(system_cpu0, system_cpu1),
    }


def measure(cell: Cell, loop: str, opts: argparse.Namespace) -> dict:
    """One run of one cell on one loop (or the native server); raises CellFailed/Unavailable."""
    if cell.style == NATIVE:
        server_cmd = [str(opts.netload), f"{cell.kind}-server", "--host", HOST]
    else:
        server_cmd = [sys.executable, str(SERVERS), loop, cell.style, "--host", HOST]
        if opts.cold_malloc:
            server_cmd.append("--cold-malloc")
    server = Server(server_cmd, opts.server_cpus)
    client_cpus = opts.client_cpus
    try:
        addr = f"{HOST}:{server.port}"
        common = ["--addr", addr, "--conns", str(cell.conns), "--threads", str(opts.threads),
                  "--pid", str(server.proc.pid)]
        timeout = opts.warmup + opts.duration + 60
        tls = cell.style in TLS_STYLES
        if cell.kind == "echo":
            result = run_netload(
                opts.netload,
                ["tls-echo" if tls else "echo", *common, "--size", str(cell.size),
                 "--duration", str(opts.duration), "--warmup", str(opts.warmup)],
                timeout,
                client_cpus,
            )
            result["client"] = "netload"
        elif opts.wrk:
            if opts.warmup > 0:  # same warm-up as netload gives itself
                run_netload(opts.netload, ["https" if tls else "http", *common,
                                           "--duration", str(opts.warmup), "--warmup", "0"],
                            timeout, client_cpus)
            server.check_alive()
            duration = max(1, round(opts.duration))  # wrk takes whole seconds
            result = run_wrk(opts.wrk, server.port, cell.conns, opts.threads, duration,
                             server.proc.pid, timeout, client_cpus, tls)
            result["client"] = "wrk"
        else:
            result = run_netload(
                opts.netload,
                ["https" if tls else "http", *common, "--duration", str(opts.duration),
                 "--warmup", str(opts.warmup)],
                timeout,
                client_cpus,
            )
            result["client"] = "netload"
        server.check_alive()
    except CellFailed as exc:
        output = server.stop()
        if output and "server died" not in str(exc):
            raise CellFailed(f"{exc}; server stderr: {error_summary(output)}") from exc
        raise
    finally:
        server_output = server.stop()
    seconds = result["seconds"]
    for side in ("server", "client"):
        cpu = result.get(f"{side}_cpu_s")
        result[f"{side}_cpu_pct"] = None if cpu is None else 100.0 * cpu / seconds
    parts = [result.get(k) for k in ("system_cpu_s", "server_cpu_s", "client_cpu_s")]
    result["other_cpu_pct"] = (
        None if None in parts else max(0.0, 100.0 * (parts[0] - parts[1] - parts[2]) / seconds)
    )
    cpu = result.get("server_cpu_s")
    result["server_us_per_req"] = (
        None if cpu is None or not result["rps"] else cpu / (result["rps"] * seconds) * 1e6
    )
    if server_output:
        result["server_stderr"] = server_output[-2000:]
    return result


# --- the run ----------------------------------------------------------------------------


def build_cells(opts: argparse.Namespace) -> list[Cell]:
    """Cells in run order: each native ceiling right before the loop cells it bounds."""
    cells = []
    echo_styles = [s for s in opts.styles if s in ECHO_STYLES]
    http_styles = [s for s in opts.styles if s in HTTP_STYLES]
    plain_echo = [s for s in echo_styles if s not in TLS_STYLES]
    plain_http = [s for s in http_styles if s not in TLS_STYLES]
    if plain_echo:
        for size in opts.sizes:
            for conns in opts.conns:
                if opts.native:
                    cells.append(Cell("echo", NATIVE, conns, size))
                cells += [Cell("echo", style, conns, size) for style in plain_echo]
    if plain_http:
        for conns in opts.http_conns:
            if opts.native:
                cells.append(Cell("http", NATIVE, conns))
            cells += [Cell("http", style, conns) for style in plain_http]
    # TLS (issue #4): echo at 1 and 10 KiB over 10 connections, HTTPS; no native ceiling.
    if "tls" in echo_styles:
        cells += [Cell("echo", "tls", conns, size)
                  for size in opts.tls_sizes for conns in opts.tls_conns]
    if "https" in http_styles:
        cells += [Cell("http", "https", conns) for conns in opts.http_conns]
    return cells


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def collect(cells: list[Cell], loops: list[str], opts: argparse.Namespace) -> None:
    def runners(cell: Cell, rep: int) -> list[str]:
        if cell.style == NATIVE:
            return [NATIVE]
        shift = rep % len(loops)  # rotate so no loop always runs first
        return loops[shift:] + loops[:shift]

    total = opts.repeat * sum(len(runners(cell, 0)) for cell in cells)
    done = 0
    for rep in range(opts.repeat):
        for cell in cells:
            for loop in runners(cell, rep):
                done += 1
                prefix = f"[{done}/{total}] repeat {rep + 1} {cell.label():<28} {loop:<8}"
                if loop in cell.unavailable:
                    print(f"{prefix} unavailable", file=sys.stderr, flush=True)
                    continue
                try:
                    sample = measure(cell, loop, opts)
                except CellUnavailable as exc:
                    cell.unavailable[loop] = str(exc)
                    shown = f"unavailable: {exc}"
                except CellFailed as exc:
                    cell.errors.setdefault(loop, []).append(str(exc))
                    shown = f"ERROR {exc}"
                else:
                    cell.samples.setdefault(loop, []).append(sample)
                    shown = f"{sample['rps']:>10,.0f} req/s  CPU " + " ".join(
                        f"{side} {_pct(sample.get(f'{side}_cpu_pct'))}"
                        for side in ("server", "client", "other")
                    )
                print(f"{prefix} {shown}", file=sys.stderr, flush=True)


# --- the report ---------------------------------------------------------------------------

_ABBREV = {"aioxide": "ax", "uvloop": "uv", "rloop": "rl", "rsloop": "rs",
           "rsloop-nopatch": "rs-np", "asyncio": "as"}


def _cell_value(cell: Cell, loop: str) -> str:
    value = cell.median(loop)
    if value is not None:
        return f"{value:,.0f}"
    if loop in cell.unavailable:
        return "unavailable"
    if cell.errors.get(loop):
        return "error"
    return "—"


def _cpu(cell: Cell, loops: list[str], key: str, digits: int = 0) -> str:
    values = [cell.median(loop, key) for loop in loops]
    return " / ".join("—" if v is None else f"{v:.{digits}f}" for v in values)


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def _status(ratio: float | None, share: float | None, target: float | None, cell: Cell) -> str:
    if ratio is None:
        if "aioxide" in cell.unavailable:
            return "unavailable"
        return "error" if cell.errors.get("aioxide") else "n/a"
    if target is None:
        return "no target"
    if ratio >= target:
        return "met"
    if share is not None and share >= NATIVE_SHARE:
        return f"met (≥{NATIVE_SHARE:.0%} of native)"
    return "missed"


def _table(cells: list[Cell], natives: dict, loops: list[str], kind: str) -> list[str]:
    rows = [c for c in cells if c.kind == kind and c.style != NATIVE]
    if not rows:
        return []
    short = "/".join(_ABBREV.get(loop, loop) for loop in loops)
    head = ["style", "size", "conns"] if kind == "echo" else ["server", "conns"]
    head += [f"{loop} req/s" for loop in loops]
    head += ["aioxide/uvloop", "aioxide/best peer", "aioxide % of native", "target", "status",
             f"server CPU % ({short})", f"client CPU % ({short})",
             f"server CPU µs/req ({short})"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if h in ("style", "server", "status") else "--:"
                            for h in head) + "|"]
    for cell in rows:
        ours = cell.median("aioxide")
        ratio = _ratio(ours, cell.median("uvloop"))
        peers = [cell.median(loop) for loop in loops if loop not in ("aioxide", "asyncio")]
        best = _ratio(ours, max((v for v in peers if v is not None), default=None))
        native = natives.get((cell.kind, cell.size, cell.conns))
        share = _ratio(ours, native.median(NATIVE)) if native else None
        target = TARGETS.get(cell.style)
        values = [STYLE_NAMES[cell.style]]
        if kind == "echo":
            values.append(fmt_size(cell.size))
        values.append(str(cell.conns))
        values += [_cell_value(cell, loop) for loop in loops]
        values += [
            "—" if ratio is None else f"{ratio:.2f}x",
            "—" if best is None else f"{best:.2f}x",
            "—" if share is None else f"{share:.0%}",
            "—" if target is None else f"≥{target:g}x",
            _status(ratio, share, target, cell),
            _cpu(cell, loops, "server_cpu_pct"),
            _cpu(cell, loops, "client_cpu_pct"),
            _cpu(cell, loops, "server_us_per_req", 1),
        ]
        lines.append("| " + " | ".join(values) + " |")
    return lines


def _native_table(cells: list[Cell]) -> list[str]:
    rows = [c for c in cells if c.style == NATIVE]
    if not rows:
        return []
    lines = ["| server | size | conns | req/s | MiB/s | server CPU % | client CPU % "
             "| server CPU µs/req |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for cell in rows:
        name = "Rust echo, 1-thread epoll" if cell.kind == "echo" else "Rust HTTP, 1-thread epoll"
        mib = cell.median(NATIVE, "mib_s")
        values = [
            name,
            fmt_size(cell.size) if cell.kind == "echo" else "—",
            str(cell.conns),
            _cell_value(cell, NATIVE),
            "—" if mib is None else f"{mib:,.1f}",
            _cpu(cell, [NATIVE], "server_cpu_pct"),
            _cpu(cell, [NATIVE], "client_cpu_pct"),
            _cpu(cell, [NATIVE], "server_us_per_req", 1),
        ]
        lines.append("| " + " | ".join(values) + " |")
    return lines


def markdown_report(results: dict, cells: list[Cell], loops: list[str]) -> str:
    m = results["machine"]
    s = results["settings"]
    versions = ", ".join(f"{name} {v}" for name, v in results["versions"].items())
    http_client = (
        f"wrk (`-t{s['threads']} -c<conns> -d{max(1, round(s['duration']))}s`)"
        if s["http_client"] == "wrk" else "netload http (wrk not found on PATH)"
    )
    lines = [
        "# aioxide network benchmarks",
        "",
        f"- machine: nproc={m['nproc']}, {m['cpu']}, {m['platform']}",
        f"- python: {m['implementation']} {m['python']}; loops: {versions}",
        f"- command: `{results['command']}`",
        f"- median of {s['repeat']} runs per cell; each run is a fresh server process "
        f"measured for {s['duration']:g} s after {s['warmup']:g} s of warm-up, "
        "one request in flight per connection, all on 127.0.0.1",
        f"- echo client: netload ({s['threads']} thread(s), epoll); HTTP client: {http_client}",
        "- CPUs: " + (
            f"server pinned to {s['server_cpus']}, client to {s['client_cpus']}"
            if s["server_cpus"] else "not pinned"
        ),
        "- Python servers " + (
            "start cold (`--cold-malloc`)" if s["cold_malloc"] else
            "free a 1 MiB block first so glibc's mmap threshold is past asyncio's 256 KiB "
            "reads (`warm_malloc` in benches/net_servers.py)"
        ),
        "- `aioxide/uvloop` is aioxide's req/s over uvloop's (>1 = aioxide faster); "
        "`% of native` compares with the Rust single-thread epoll server at the same size "
        "and connections; CPU is % of one core during the measured window (which side was the "
        "limit), and server CPU µs/req is the server's CPU time per request (its efficiency, "
        "also where the client was the limit)",
    ]
    other = [s["other_cpu_pct"] for c in cells for ss in c.samples.values() for s in ss
             if s.get("other_cpu_pct") is not None]
    if other:
        lines.append(f"- other processes during the measured windows: median "
                     f"{statistics.median(other):.0f}%, at most {max(other):.0f}% of a core")
    for name, reason in results["skipped"].items():
        lines.append(f"- **{name} skipped**: {reason}")
    natives = {(c.kind, c.size, c.conns): c for c in cells if c.style == NATIVE}
    for title, table in (
        ("TCP echo", _table(cells, natives, loops, "echo")),
        ("HTTP/1.1 keep-alive", _table(cells, natives, loops, "http")),
        ("Native ceiling (benches/netload, same client)", _native_table(cells)),
    ):
        if table:
            lines += ["", f"## {title}", "", *table]

    notes = []
    for cell in cells:
        for loop, reason in cell.unavailable.items():
            notes.append(f"- {cell.label()} on {loop}: unavailable: {reason}")
        for loop, errors in cell.errors.items():
            for error in dict.fromkeys(errors):
                notes.append(f"- {cell.label()} on {loop}: error: {error}")
        cpu = cell.median("aioxide", "client_cpu_pct")
        if cpu is not None and cpu >= CLIENT_BOUND_CPU:
            notes.append(f"- {cell.label()}: the client used {cpu:.0f}% of a core against "
                         "aioxide; the client may be the limit")
        for loop, samples in cell.samples.items():
            stderr = [x["server_stderr"] for x in samples if x.get("server_stderr")]
            if stderr:
                last = stderr[-1].strip().splitlines()[-1][:200]
                notes.append(f"- {cell.label()} on {loop}: server wrote to stderr in "
                             f"{len(stderr)} run(s), last line: `{last}`")
    others = [
        (sample["other_cpu_pct"], cell, loop)
        for cell in cells for loop, samples in cell.samples.items() for sample in samples
        if sample.get("other_cpu_pct") is not None
    ]
    busy = [o for o in others if o[0] > BUSY_MACHINE_CPU]
    if busy:
        worst, cell, loop = max(busy, key=lambda o: o[0])
        notes.insert(0, f"- **busy machine**: in {len(busy)} of {len(others)} runs other processes "
                     f"used more than {BUSY_MACHINE_CPU:g}% of a core (at most {worst:.0f}%, "
                     f"{cell.label()} on {loop}); those numbers are not worth reading")
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def cell_json(cell: Cell) -> dict:
    runners = sorted(set(cell.samples) | set(cell.errors) | set(cell.unavailable))
    return {
        "kind": cell.kind,
        "style": cell.style,
        "size": cell.size if cell.kind == "echo" else None,
        "conns": cell.conns,
        "median_rps": {loop: cell.median(loop) for loop in runners},
        "samples": cell.samples,
        "errors": cell.errors,
        "unavailable": cell.unavailable,
    }


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    styles = ECHO_STYLES + HTTP_STYLES
    parser.add_argument("--loops", type=lambda s: names_arg(s, LOOP_NAMES),
                        default=list(LOOP_NAMES))
    parser.add_argument("--styles", type=lambda s: names_arg(s, styles), default=list(styles),
                        help=f"of {','.join(styles)}")
    parser.add_argument("--sizes", type=_int_list, default=[1024, 10240, 102400],
                        help="echo payload bytes")
    parser.add_argument("--conns", type=_int_list, default=[1, 10],
                        help="concurrent echo connections")
    parser.add_argument("--http-conns", type=_int_list, default=[10, 100],
                        help="concurrent HTTP(S) connections")
    parser.add_argument("--tls-sizes", type=_int_list, default=[1024, 10240],
                        help="TLS echo payload bytes")
    parser.add_argument("--tls-conns", type=_int_list, default=[10],
                        help="concurrent TLS echo connections (one client thread each)")
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=None,
                        help="unmeasured seconds before each run (default min(0.5, duration/4))")
    parser.add_argument("--repeat", type=int, default=3, help="runs per (cell, loop)")
    parser.add_argument("--threads", type=int, default=1, help="load client threads")
    parser.add_argument("--http-client", choices=("auto", "wrk", "netload"), default="auto",
                        help="auto: wrk when on PATH, else netload http")
    parser.add_argument("--pin", choices=("split", "none"), default="split",
                        help="split: server on the last CPU, load client on the others")
    parser.add_argument("--cold-malloc", action="store_true",
                        help="servers skip their glibc mmap-threshold warm-up (net_servers.py)")
    parser.add_argument("--no-native", dest="native", action="store_false",
                        help="skip the native ceiling servers")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: --duration 0.5 --repeat 1 --sizes 1024 --http-conns 10")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeat, args.sizes, args.http_conns = 0.5, 1, [1024], [10]
        args.tls_sizes = [1024]
    if args.warmup is None:
        args.warmup = min(0.5, args.duration / 4)
    if args.repeat < 1 or args.duration <= 0 or args.warmup < 0 or args.threads < 1:
        parser.error("--repeat and --threads must be >= 1, --duration > 0, --warmup >= 0")
    args.server_cpus, args.client_cpus = cpu_split(args.pin)
    args.wrk = None
    if args.http_client != "netload":
        args.wrk = shutil.which("wrk")
        if args.wrk is None and args.http_client == "wrk":
            parser.error("--http-client wrk: wrk is not on PATH")
    return args


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    command = shlex.join(["python", "benches/net_bench.py", *argv])
    loops, skipped = usable_loops(opts.loops)
    if not loops:
        print("no loop is importable; nothing to measure", file=sys.stderr)
        return 2
    opts.netload = build_netload(any(style in TLS_STYLES for style in opts.styles))

    cells = build_cells(opts)
    collect(cells, loops, opts)

    results = {
        "command": command,
        "machine": machine_info(),
        "versions": {loop: version_of(loop) for loop in loops},
        "skipped": skipped,
        "settings": {
            "duration": opts.duration,
            "warmup": opts.warmup,
            "repeat": opts.repeat,
            "sizes": opts.sizes,
            "conns": opts.conns,
            "http_conns": opts.http_conns,
            "threads": opts.threads,
            "server_cpus": sorted(opts.server_cpus) if opts.server_cpus else None,
            "client_cpus": sorted(opts.client_cpus) if opts.client_cpus else None,
            "http_client": "wrk" if opts.wrk else "netload",
            "cold_malloc": opts.cold_malloc,
            "loops": loops,
        },
        "cells": [cell_json(cell) for cell in cells],
    }
    print(markdown_report(results, cells, loops))
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    opts.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON results: {os.path.relpath(opts.output)}", file=sys.stderr)
    return 1 if any(cell.errors for cell in cells) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
