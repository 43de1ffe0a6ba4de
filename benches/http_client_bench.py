"""HTTP client benchmark: aioxide.http vs aiohttp, httpx, pyreqwest and niquests.

    python benches/http_client_bench.py [--clients aioxide.http,aiohttp,...]
                                        [--loops aioxide,uvloop] [--cells get,post-1MB]
                                        [--repeat 3] [--scale 1.0] [--timeout 300] [--quick]

Cells (sizes at --scale 1.0):

get-cC          keep-alive `GET /` (13-byte `Hello, World!` answer) over plain HTTP, C
                requests in flight (C = 1, 10, 100): 5,000 requests. Server: `netload
                http-server`, benches/netload's single-thread epoll server.
post-SIZE-cC    pyreqwest's own benchmark matrix: batches of 100 POSTs of SIZE bytes
                (10KB, 100KB, 1MB, 5MB, decimal) over HTTPS, at most C in flight (C = 2, 10,
                100), the body echoed back and read whole; 20, 10, 3 and 1 batches.
                Server: `netload http-echo-server` over rustls (one thread per connection).

Every measurement is one (client, loop, cell) in a fresh interpreter with a timeout: it
opens one session with a pool of C connections, warms it up (every connection opened,
TLS handshakes done), then times the requests with time.perf_counter (requests/s) and
time.process_time (client CPU per request: every thread of the client process, so
pyreqwest's Tokio threads count; the server is another process and does not). Each
response is checked (status 200, body length) and anything else makes the measurement an
error, reported under the table. Each repeat runs every (client, loop) once per cell,
interleaved and rotated; the table shows medians. With two or more CPUs the servers are
pinned to the last one and the clients to the others, as in net_bench.py. A client or loop
that does not import is skipped with the reason. Progress goes to stderr, the Markdown
report to stdout, raw numbers to benches/results/http_client_latest.json. Exit status 1
when any measurement failed.

Targets (aioxide.http against the other clients on the same loop): small GETs at least 3x
aiohttp's requests/s at no more than 20 µs of client CPU per request; HTTPS POSTs at least
1.5x aiohttp and at least pyreqwest in every cell of its matrix.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import json
import os
import shlex
import ssl
import statistics
import sys
import tempfile
import time
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _subproc import result_from, warm_malloc  # noqa: E402
from loops import names_arg, new_loop, usable_loops, version_of  # noqa: E402
from net_bench import CellFailed, Server, build_netload, cpu_split  # noqa: E402
from report import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "http_client_latest.json"
HOST = "127.0.0.1"

CLIENTS = ("aioxide.http", "aiohttp", "httpx", "pyreqwest", "niquests")
LOOPS = ("aioxide", "uvloop")
HELLO = b"Hello, World!"
GET_CONCURRENCY = (1, 10, 100)
GET_REQUESTS = 5000
POST_CONCURRENCY = (2, 10, 100)
POST_BATCHES = {10_000: 20, 100_000: 10, 1_000_000: 3, 5_000_000: 1}  # size -> batches
BATCH = 100
QUICK_CELLS = ("get-c10", "post-100KB-c10")
GET_TARGET, GET_CPU_TARGET_US, POST_TARGET = 3.0, 20.0, 1.5


@dataclass
class Cell:
    kind: str  # "get" | "post"
    conc: int
    size: int = 0  # POST body bytes
    samples: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    errors: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        if self.kind == "get":
            return f"get-c{self.conc}"
        return f"post-{size_label(self.size)}-c{self.conc}"

    def median(self, client: str, loop: str, key: str) -> float | None:
        values = [s[key] for s in self.samples.get((client, loop), [])]
        return statistics.median(values) if values else None


def size_label(size: int) -> str:
    return f"{size // 1_000_000}MB" if size >= 1_000_000 else f"{size // 1000}KB"


def all_cells() -> list[Cell]:
    cells = [Cell("get", c) for c in GET_CONCURRENCY]
    cells += [Cell("post", c, size) for size in POST_BATCHES for c in POST_CONCURRENCY]
    return cells


def requests_in(cell: Cell, scale: float) -> int:
    if cell.kind == "get":
        return max(cell.conc, round(GET_REQUESTS * scale))
    return max(1, round(POST_BATCHES[cell.size] * scale)) * BATCH


# --- the clients (run inside the worker process) ---------------------------------------


@asynccontextmanager
async def open_client(name: str, conc: int, ca_file: str | None):
    """A session of client ``name`` with a pool of ``conc`` connections, trusting
    ``ca_file``; yields ``request(method, url, body) -> (status, body length)``."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else None
    if name in ("aiohttp", "aioxide.http"):
        module = importlib.import_module(name)
        extra = {"ssl": ctx} if ctx else {}
        connector = module.TCPConnector(limit=conc)
        async with module.ClientSession(connector=connector) as session:

            async def request(method, url, body):
                async with session.request(method, url, data=body, **extra) as resp:
                    return resp.status, len(await resp.read())

            yield request
    elif name == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        async with httpx.AsyncClient(verify=ctx or True, limits=limits) as client:

            async def request(method, url, body):
                resp = await client.request(method, url, content=body)
                return resp.status_code, len(resp.content)

            yield request
    elif name == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        builder = ClientBuilder().pool_max_idle_per_host(conc)
        if ca_file:
            builder = builder.add_root_certificate_pem(Path(ca_file).read_bytes())
        async with builder.build() as client:

            async def request(method, url, body):
                builder = client.request(method, url)
                if body is not None:
                    builder = builder.body_bytes(body)
                resp = await builder.build().send()
                return resp.status, len(await resp.bytes())

            yield request
    elif name == "niquests":
        import niquests

        # No OCSP/CRL lookups: there is nothing to ask about a local test CA.
        async with niquests.AsyncSession(pool_maxsize=conc,
                                         revocation_configuration=None) as session:
            extra = {"verify": ca_file} if ca_file else {}

            async def request(method, url, body):
                resp = await session.request(method, url, data=body, **extra)
                return resp.status_code, len(resp.content)

            yield request
    else:
        raise ValueError(f"unknown client {name!r}")


async def run_lanes(one, total: int, conc: int) -> None:
    """``total`` calls of ``one``, at most ``conc`` in flight (one coroutine per lane)."""
    left = total

    async def lane() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(lane() for _ in range(min(conc, total))))


async def measure(client: str, cell: Cell, url: str, ca_file: str | None, n: int) -> dict:
    method = "POST" if cell.kind == "post" else "GET"
    body = b"x" * cell.size if cell.kind == "post" else None
    expected = cell.size if body is not None else len(HELLO)
    async with open_client(client, cell.conc, ca_file) as request:

        async def one() -> None:
            status, length = await request(method, url, body)
            if status != 200 or length != expected:
                raise AssertionError(f"got status {status} with {length} body bytes, "
                                     f"expected 200 with {expected}")

        # Warm-up: every connection of the pool opened (and its handshake done).
        warm = max(2 * cell.conc, 20) if cell.kind == "get" else max(cell.conc, 10)
        await run_lanes(one, warm, cell.conc)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if cell.kind == "get":
            await run_lanes(one, n, cell.conc)
        else:  # pyreqwest's shape: batches of BATCH requests, one after the other
            for _ in range(n // BATCH):
                await run_lanes(one, BATCH, cell.conc)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"seconds": wall, "cpu_seconds": cpu, "requests": n}


def worker(opts: argparse.Namespace) -> int:
    client, loop_name, cell_name = opts.worker
    if opts.cpus:
        os.sched_setaffinity(0, {int(c) for c in opts.cpus.split(",")})
    cell = next(c for c in all_cells() if c.name == cell_name)
    warm_malloc()
    loop = new_loop(loop_name)
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(measure(client, cell, opts.url, opts.ca, opts.n))
    except Exception as exc:
        traceback.print_exc()
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" [at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}]" \
            if frames else ""
        print(f"{type(exc).__name__}: {exc}{where}"[:400], file=sys.stderr)
        return 1
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    print(json.dumps(result))
    return 0


# --- the driver ------------------------------------------------------------------------


def usable_clients(requested: list[str]) -> tuple[list[str], dict[str, str]]:
    clients, skipped = [], {}
    for name in requested:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an extension module may fail with anything
            skipped[name] = f"{type(exc).__name__}: {exc}"
            print(f"skipping {name}: {skipped[name]}", file=sys.stderr)
        else:
            clients.append(name)
    return clients, skipped


def client_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aioxide" if name == "aioxide.http" else name)
    except PackageNotFoundError:
        return "?"


def make_certificate(tmp: Path) -> tuple[Path, Path, Path]:
    """(server chain PEM, server key PEM, CA PEM) for 127.0.0.1 and localhost, from a
    throwaway trustme CA."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key, ca_file = tmp / "chain.pem", tmp / "key.pem", tmp / "ca.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return chain, key, ca_file


class Servers:
    """The two netload servers, started on first use and again if one died."""

    def __init__(self, netload: Path, tls_files, cpus):
        self.netload, self.tls_files, self.cpus = netload, tls_files, cpus
        self.running: dict[str, Server] = {}

    def url_for(self, kind: str) -> str:
        server = self.running.get(kind)
        if server is None or server.proc.poll() is not None:
            if server is not None:
                print(f"{kind} server died: {server.stop()[-300:]}", file=sys.stderr)
            cmd = [str(self.netload), "http-server" if kind == "get" else "http-echo-server",
                   "--host", HOST]
            if kind == "post":
                chain, key, _ = self.tls_files
                cmd += ["--cert", str(chain), "--key", str(key)]
            server = self.running[kind] = Server(cmd, self.cpus)
        scheme = "https" if kind == "post" else "http"
        return f"{scheme}://{HOST}:{server.port}/"

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()


def collect(cells: list[Cell], clients: list[str], loops: list[str],
            opts: argparse.Namespace, servers: Servers) -> None:
    pairs = [(client, loop) for loop in loops for client in clients]
    total = opts.repeat * len(cells) * len(pairs)
    done = 0
    for rep in range(opts.repeat):
        for cell in cells:
            shift = rep % len(pairs)  # rotated, so no pair always runs first
            n = requests_in(cell, opts.scale)
            for client, loop in pairs[shift:] + pairs[:shift]:
                done += 1
                prefix = f"[{done}/{total}] repeat {rep + 1} {cell.name:<16} {client:<13} {loop:<8}"
                try:
                    url = servers.url_for(cell.kind)
                except CellFailed as exc:
                    result, error = None, f"server: {exc}"
                else:
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", client,
                           loop, cell.name, "--url", url, "--n", str(n)]
                    if cell.kind == "post":
                        cmd += ["--ca", str(servers.tls_files[2])]
                    if opts.client_cpus:
                        cmd += ["--cpus", ",".join(map(str, sorted(opts.client_cpus)))]
                    result, error = result_from(cmd, opts.timeout)
                if result is None:
                    cell.errors.setdefault((client, loop), []).append(error)
                    shown = f"ERROR {error}"
                else:
                    sample = {"rps": n / result["seconds"],
                              "cpu_us": result["cpu_seconds"] / n * 1e6, **result}
                    cell.samples.setdefault((client, loop), []).append(sample)
                    shown = f"{sample['rps']:>9,.0f} req/s  {sample['cpu_us']:7.1f} µs CPU/req"
                print(f"{prefix} {shown}", file=sys.stderr, flush=True)


# --- the report ------------------------------------------------------------------------


def _status(cell: Cell, loop: str) -> tuple[str, str, str]:
    """(aioxide.http / aiohttp, aioxide.http / pyreqwest, verdict) for one row."""
    ours = cell.median("aioxide.http", loop, "rps")
    aiohttp = cell.median("aiohttp", loop, "rps")
    pyreqwest = cell.median("pyreqwest", loop, "rps")
    vs_aiohttp = ours / aiohttp if ours and aiohttp else None
    vs_pyreqwest = ours / pyreqwest if ours and pyreqwest else None
    shown = ("—" if vs_aiohttp is None else f"{vs_aiohttp:.2f}x",
             "—" if vs_pyreqwest is None else f"{vs_pyreqwest:.2f}x")
    if ours is None:
        return (*shown, "error" if cell.errors.get(("aioxide.http", loop)) else "n/a")
    missed = []
    if cell.kind == "get":
        cpu = cell.median("aioxide.http", loop, "cpu_us")
        if vs_aiohttp is None or vs_aiohttp < GET_TARGET:
            missed.append(f"<{GET_TARGET:g}x aiohttp")
        if cpu is not None and cpu > GET_CPU_TARGET_US:
            missed.append(f">{GET_CPU_TARGET_US:g} µs")
    else:
        if vs_aiohttp is None or vs_aiohttp < POST_TARGET:
            missed.append(f"<{POST_TARGET:g}x aiohttp")
        if vs_pyreqwest is None or vs_pyreqwest < 1.0:
            missed.append("< pyreqwest")
    return (*shown, "met" if not missed else "missed: " + ", ".join(missed))


def markdown_report(results: dict, cells: list[Cell], clients: list[str],
                    loops: list[str]) -> str:
    m, s = results["machine"], results["settings"]
    lines = [
        f"# aioxide.http client benchmark — {m['implementation']} {m['python']}, "
        f"{results['date']}",
        "",
        f"- machine: nproc={m['nproc']}, {m['cpu']}, {m['platform']}",
        "- clients: " + ", ".join(f"{c} {results['versions'][c]}" for c in clients)
        + "; loops: " + ", ".join(f"{lp} {results['versions'][lp]}" for lp in loops),
        f"- command: `{results['command']}`",
        f"- median of {s['repeat']} fresh client processes per cell; GETs: "
        f"{s['get_requests']:,} keep-alive requests over HTTP against netload http-server; "
        f"POSTs: batches of {BATCH} over HTTPS (rustls, trustme CA) against netload "
        "http-echo-server, body echoed back",
        "- CPUs: " + (f"servers pinned to {s['server_cpus']}, clients to {s['client_cpus']}"
                      if s["server_cpus"] else "not pinned"),
        "- each client cell: requests/s · ratio to aiohttp on the same loop · client CPU "
        "µs per request (all threads of the client process)",
        f"- targets for aioxide.http: small GETs ≥{GET_TARGET:g}x aiohttp at "
        f"≤{GET_CPU_TARGET_US:g} µs client CPU/request; HTTPS POSTs ≥{POST_TARGET:g}x "
        "aiohttp and ≥ pyreqwest in every cell of its matrix",
    ]
    for name, reason in results["skipped"].items():
        lines.append(f"- **{name} skipped**: {reason}")
    head = ["cell", "loop", *clients, "aioxide.http / aiohttp", "aioxide.http / pyreqwest",
            "status"]
    lines += ["", "| " + " | ".join(head) + " |",
              "|---|---|" + "--:|" * (len(clients) + 2) + "---|"]
    for cell in cells:
        for loop in loops:
            base = cell.median("aiohttp", loop, "rps")
            values = [cell.name, loop]
            for client in clients:
                rps = cell.median(client, loop, "rps")
                if rps is None:
                    values.append("error" if cell.errors.get((client, loop)) else "—")
                    continue
                ratio = f"{rps / base:.2f}x" if base else "—"
                values.append(f"{rps:,.0f} · {ratio} · "
                              f"{cell.median(client, loop, 'cpu_us'):.1f} µs")
            values += _status(cell, loop)
            lines.append("| " + " | ".join(values) + " |")
    notes = [f"- {cell.name}, {client} on {loop}: {error}"
             for cell in cells for (client, loop), errors in cell.errors.items()
             for error in dict.fromkeys(errors)]
    if notes:
        lines += ["", "Errors:", *notes]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [c.name for c in all_cells()]
    parser.add_argument("--clients", type=lambda s: names_arg(s, CLIENTS), default=list(CLIENTS),
                        help=f"of {','.join(CLIENTS)}")
    parser.add_argument("--loops", type=lambda s: names_arg(s, LOOPS), default=list(LOOPS))
    parser.add_argument("--cells", default=None,
                        help="comma-separated cell names or prefixes (get, post-1MB, "
                             f"post-10KB-c2, ...) of: {', '.join(names)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per (cell, client, loop)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies request counts")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per measurement")
    parser.add_argument("--pin", choices=("split", "none"), default="split",
                        help="split: servers on the last CPU, clients on the others")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: --repeat 1 --scale 0.1 --cells {','.join(QUICK_CELLS)}")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--worker", nargs=3, metavar=("CLIENT", "LOOP", "CELL"),
                        help=argparse.SUPPRESS)
    for hidden in ("--url", "--ca", "--cpus"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    if args.quick:
        args.repeat, args.scale = 1, 0.1
        args.cells = args.cells or ",".join(QUICK_CELLS)
    if args.repeat < 1 or args.scale <= 0 or args.timeout <= 0:
        parser.error("--repeat must be >= 1, --scale and --timeout > 0")
    wanted = [w.strip() for w in (args.cells or "").split(",") if w.strip()]
    args.cell_list = [c for c in all_cells()
                      if not wanted or any(c.name == w or c.name.startswith(w + "-")
                                           for w in wanted)]
    unknown = [w for w in wanted
               if not any(c.name == w or c.name.startswith(w + "-") for c in all_cells())]
    if unknown or not args.cell_list:
        parser.error(f"--cells: unknown {', '.join(unknown) or 'selection'}; cells: "
                     + ", ".join(names))
    args.server_cpus, args.client_cpus = cpu_split(args.pin)
    return args


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    if opts.worker:
        return worker(opts)
    command = shlex.join(["python", "benches/http_client_bench.py", *argv])
    clients, skipped = usable_clients(opts.clients)
    loops, skipped_loops = usable_loops(opts.loops)
    skipped.update(skipped_loops)
    if not clients or not loops:
        print("no client or no loop is importable; nothing to measure", file=sys.stderr)
        return 2
    cells = opts.cell_list
    netload = build_netload(tls=any(c.kind == "post" for c in cells))
    with tempfile.TemporaryDirectory(prefix="http-client-bench-") as tmp:
        tls_files = None
        if any(c.kind == "post" for c in cells):
            try:
                tls_files = make_certificate(Path(tmp))
            except ImportError as exc:
                skipped["HTTPS cells"] = f"no certificate: {exc} (pip install trustme)"
                cells = [c for c in cells if c.kind != "post"]
        servers = Servers(netload, tls_files, opts.server_cpus)
        try:
            collect(cells, clients, loops, opts, servers)
        finally:
            servers.stop()

    results = {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "machine": machine_info(),
        "versions": {**{c: client_version(c) for c in clients},
                     **{lp: version_of(lp) for lp in loops}},
        "skipped": skipped,
        "settings": {
            "repeat": opts.repeat,
            "scale": opts.scale,
            "get_requests": requests_in(Cell("get", 1), opts.scale),
            "post_requests": {size_label(s): requests_in(Cell("post", 2, s), opts.scale)
                              for s in POST_BATCHES},
            "server_cpus": sorted(opts.server_cpus) if opts.server_cpus else None,
            "client_cpus": sorted(opts.client_cpus) if opts.client_cpus else None,
        },
        "cells": [{"cell": c.name, "kind": c.kind, "concurrency": c.conc, "size": c.size,
                   "samples": {f"{cl}/{lp}": v for (cl, lp), v in c.samples.items()},
                   "errors": {f"{cl}/{lp}": v for (cl, lp), v in c.errors.items()}}
                  for c in cells],
    }
    print(markdown_report(results, cells, clients, loops))
    opts.output.parent.mkdir(parents=True, exist_ok=True)
    opts.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON results: {os.path.relpath(opts.output)}", file=sys.stderr)
    return 1 if any(c.errors for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
