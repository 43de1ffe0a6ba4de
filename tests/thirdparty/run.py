"""Run other projects' asyncio test suites on aioxide and on their reference loop.

    python tests/thirdparty/run.py [SUITE ...] [--workdir DIR] [--jobs N] [--no-build]

SUITE is any of anyio, uvloop, aiohttp, aiohttp-client, starlette, httpx, uvicorn,
asyncssh, aioquic, aiosmtpd, tornado, asyncpg, redis, asgiref, aiofiles, hypercorn,
sanic, pyzmq, aioconsole, aiomisc (default: all).

For each suite (a pinned release, its sdist from PyPI), the tests run twice: on the loop
the project tests against (stdlib asyncio) and on aioxide, through the project's own
loop-selection hook; no file of aioxide or of the project's library is changed, only the
copy of its tests gets a few lines of harness. A failure on aioxide that also fails on
the reference loop is the machine's or the suite's (no IPv6 for ``localhost``, running as
root, ...). A failure only on aioxide is either in ``KNOWN`` below, with its reason, or it
fails this run.

``aiohttp-client`` compares clients, not loops: aiohttp's
``tests/test_client_functional.py`` runs on the aioxide loop twice, with aiohttp's
``ClientSession`` and with ``aioxide.http``'s in its place (harness lines rebind the names
the tests look up; see ``HARNESS_AIOHTTP_CLIENT``). It prints passed/total for both and
writes the failures only with aioxide.http, by reason (``client_gaps.py``), to
``aiohttp-client.md`` in the work folder.

``--no-build`` skips the release build of a wheel: the virtualenvs then import aioxide
from the checkout's ``python/``, with the extension the last ``make build`` left there.

Not part of ``make test``: it downloads nineteen suites and runs for about 50 minutes.
``make thirdparty`` runs it (``PY=3.14`` on that interpreter); everything lives under
``target/thirdparty/3.X``. asyncpg's
suite needs PostgreSQL's server programs (Debian's ``postgresql``) and starts its own
clusters, which PostgreSQL refuses to do as root: run as root, this script runs that
suite as ``nobody``, after letting other users reach the interpreter (``chmod o+x``
on the directories above it, as asyncpg's own CI does). redis-py's asyncio suite needs
``redis-server`` (Debian's ``redis-server``). redis-py's, asgiref's, aiofiles',
hypercorn's, pyzmq's and aioconsole's suites run on pytest-asyncio, in a virtualenv of
their own, since pytest-asyncio would take part in every other suite's run; Sanic's and
aiomisc's have one each too. The helpers live in ``common.py``, the harness texts in
``harnesses.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import client_gaps
from common import (
    ROOT,
    add_harness,
    copied_tests,
    junit,
    on_loop,
    patch,
    pytest,
    sdist,
    sh,
    twice,
    unprivileged,
    venv_with,
)
from harnesses import (
    AIOHTTP_INI,
    AIOSMTPD_INI,
    ANCHOR_ASYNCSSH,
    HARNESS_AIOCONSOLE,
    HARNESS_AIOHTTP,
    HARNESS_AIOHTTP_CLIENT,
    HARNESS_ANYIO_BACKEND,
    HARNESS_ANYIO_PARAM,
    HARNESS_ASYNCSSH,
    HARNESS_BLOCKBUSTER,
    HARNESS_POLICY,
    HARNESS_TORNADO,
    HARNESS_UVLOOP,
)

# Failures only on aioxide that are understood: test-id substring -> reason.
KNOWN = {
    "test_sockets.py::TestTCPStream::test_unretrieved_future_exception_server_crash":
        "asserts that nothing but asyncio's 'Executing ... took N seconds' is logged while "
        "it blocks the loop with thread.join() in debug mode; aioxide's debug-mode watchdog "
        "also logs 'event loop blocked for ...' when the join passes its 0.1 s threshold "
        "(seen under load on 3.14: 3 of 3 runs of test_sockets.py with -n 2)",
    "test_base.py::TestBaseAIO::test_set_task_name":
        "3.14+: asyncio passes name= to the task factory instead of calling set_name "
        "afterwards, and aioxide does the same; the test makes up for that only on loops "
        "whose class lives in an asyncio.* module (uvloop's is_asyncio_loop)",
    "test_connector.py::test_tcp_connector_do_not_raise_connector_ssl_error":
        "reads the TLS transport's private _ssl_protocol._sslcontext / _sslcontext",
    "test_connector.py::test_tcp_connector_uses_provided_local_addr":
        "ResourceWarning at teardown for the connector the previous (private-attribute) "
        "test left open",
    "test_web_functional.py::test_keepalive_expires_on_time":
        "mock-patches loop.time(); aioxide's timers run on its own clock, as uvloop's do",
    "test_connection.py::_TestConnection::test_connect_timeout_exceeded":
        "mock-patches asyncio.BaseEventLoop.create_connection, stdlib's own loop class "
        "(fails on uvloop too)",
    "test_cli.py::test_server_run_with_repl":
        "Sanic's REPL test is flaky on every loop under xdist (on stdlib asyncio it failed "
        "in 2 of 8 runs of test_cli.py here, once by its 60 s timeout)",
    "test_keep_alive_timeout.py::test_keep_alive_client_timeout":
        "sleeps exactly the server's 2 s keep-alive timeout and races the server's "
        "timeout check; its body, run alone 8 times per loop, failed twice on stdlib "
        "asyncio and twice on aioxide",
    "test_thread_pool.py::test_threaded_generator_close":
        "aiomisc's generator-close tests (plain and _cm) race their worker thread's "
        "finally block: run 8 times alone, they errored twice on stdlib asyncio and "
        "three times on aioxide",
    "test_to_thread.py::TestBlockingPortalProvider::test_single_thread":
        "compares threading.active_count() before and after; flaky under xdist when a "
        "thread of an earlier test in the same worker is still exiting",
}

DEPS = [
    # anyio's tests
    "anyio==4.16.0", "blockbuster", "hypothesis", "psutil", "pytest>=9", "pytest-mock",
    "pytest-timeout", "pytest-xdist", "trustme", "truststore", "uvloop==0.23.0",
    # uvloop's tests
    "pyOpenSSL",
    # aiohttp's tests
    "aiohttp[speedups]==3.14.5", "freezegun", "pkgconfig", "proxy.py>=2.4.4rc5",
    "pytest-codspeed", "isal", "zlib_ng", "gunicorn",
    # starlette's and httpx's tests
    "starlette[full]==1.10.0", "httpx2[zstd]>=2.0.0", "importlib-metadata",
    "opentelemetry-sdk", "trio", "httpx[brotli,zstd,cli,http2,socks]==0.28.1",
    "chardet", "cryptography",
    # uvicorn's, asyncssh's, aioquic's, aiosmtpd's and tornado's tests (uvicorn's extras
    # bring httptools, whose lower-case headers fail httpx's CLI tests on both loops;
    # those tests run on no loop and are not compared)
    "uvicorn[standard]==0.54.0", "a2wsgi", "wsproto", "zttp", "asyncssh[bcrypt]==2.24.1",
    "aioquic==1.7.2", "aiosmtpd==1.4.6", "tornado==6.6.1",
    # asyncpg's tests
    "asyncpg==0.32.0", "distro~=1.9.0",
]


def run_anyio(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    src = sdist(py, "anyio==4.16.0", work)
    conftest = src / "tests" / "conftest.py"
    patch(conftest, '        id=f"asyncio+{uvloop_name}",\n    ),\n]',
          '        id=f"asyncio+{uvloop_name}",\n    ),\n' + HARNESS_ANYIO_PARAM)
    select = "asyncio and not uvloop"
    try:
        socket.getaddrinfo("localhost", 0, socket.AF_INET6)
    except OSError:
        # Its IPv6 fixtures resolve "localhost"; here that fails at random, on any loop.
        print("   no IPv6 for localhost here: the ipv6 cases are left out")
        select += " and not ipv6"
    failed, _ = pytest(py, src, ["tests", "-n", jobs, "-k", select])
    return on_loop(failed, "asyncio"), on_loop(failed, "asyncio+aioxide")


def run_uvloop(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    src = sdist(py, "uvloop==0.23.0", work)
    tests = work / "uvloop-tests"
    shutil.rmtree(tests, ignore_errors=True)  # afresh: this checkout's harness
    shutil.copytree(src / "tests", tests / "tests")
    (tests / "tests" / "conftest.py").write_text(HARNESS_UVLOOP)
    args = ["tests", "-n", jobs, "-k", "AIO", "-p", "no:anyio"]
    ref, _ = pytest(py, tests, args)
    ax, _ = pytest(py, tests, args, {"UVT_AIOXIDE": "1"})
    return ref, ax


def aiohttp_tests(py: Path, work: Path, folder: str, harness: str) -> Path:
    """A copy of aiohttp's tests under ``work/folder``, afresh (this checkout's harness):
    the blockbuster harness and ``harness`` in its conftest."""
    src = sdist(py, "aiohttp==3.14.5", work)
    tests = work / folder
    shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(src / "tests", tests / "tests")
    (tests / "pytest.ini").write_text(AIOHTTP_INI)
    conftest = tests / "tests" / "conftest.py"
    patch(conftest, '        bb.functions["threading.Lock.acquire"].deactivate()\n',
          '        bb.functions["threading.Lock.acquire"].deactivate()\n'
          + HARNESS_BLOCKBUSTER)
    conftest.write_text(conftest.read_text() + harness)
    return tests


def run_aiohttp(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    tests = aiohttp_tests(py, work, "aiohttp-tests", HARNESS_AIOHTTP)
    ref, _ = pytest(py, tests, ["tests", "-n", jobs, "--aiohttp-loop=pyloop"])
    ax, _ = pytest(py, tests, ["tests", "-n", jobs, "--aiohttp-loop=uvloop"],
                   {"AIOH_AIOXIDE": "1"})
    # Tests without the loop parameter keep their ids on both runs.
    return ({re.sub(r"\bpyloop\b", "LOOP", t) for t in ref},
            {re.sub(r"\buvloop\b", "LOOP", t) for t in ax})


def run_aiohttp_client(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """aiohttp's functional client tests on the aioxide loop, with aiohttp's ClientSession
    (the reference) and with aioxide.http's (AIOH_CLIENT_AIOXIDE)."""
    tests = aiohttp_tests(py, work, "aiohttp-client-tests",
                          HARNESS_AIOHTTP + HARNESS_AIOHTTP_CLIENT)
    args = ["tests/test_client_functional.py", "-n", jobs, "--aiohttp-loop=uvloop"]
    runs = {}
    for client, env in (("aiohttp", {}), ("aioxide.http", {"AIOH_CLIENT_AIOXIDE": "1"})):
        report = tests / f"{client}.xml"
        report.unlink(missing_ok=True)
        pytest(py, tests, [*args, f"--junitxml={report}"], {"AIOH_AIOXIDE": "1", **env})
        runs[client] = {re.sub(r"\buvloop\b", "LOOP", test): result
                        for test, result in junit(report, tests).items()}
        if not runs[client]:
            runs[client]["aiohttp-client: pytest wrote no report"] = ("failed", "")
        print(f"   {client}'s ClientSession: {client_gaps.counts(runs[client])}", flush=True)
    client_gaps.write_report(work / "aiohttp-client.md", runs)
    ref, ax = ({test for test, (outcome, _) in run.items() if outcome == "failed"}
               for run in runs.values())
    return ref, ax


def run_anyio_backend_suite(py: Path, work: Path, spec: str, args: list[str]) -> tuple[set, set]:
    """A suite whose tests take anyio's ``anyio_backend`` fixture: each test runs on both
    loops in one pytest run."""
    src = sdist(py, spec, work)
    add_harness(src / "tests" / "conftest.py", HARNESS_ANYIO_BACKEND)
    failed, _ = pytest(py, src, ["tests", *args])
    return on_loop(failed, "asyncio"), on_loop(failed, "aioxide")


def run_starlette(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    return run_anyio_backend_suite(py, work, "starlette==1.10.0", ["-n", jobs])


def run_httpx(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    # One process: its test server always listens on port 8000.
    return run_anyio_backend_suite(py, work, "httpx==0.28.1",
                                   ["-p", "no:xdist", "-W", "ignore::DeprecationWarning"])


def run_uvicorn(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    return run_anyio_backend_suite(py, work, "uvicorn==0.54.0", ["-n", jobs])


def run_asyncssh(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    root, new = copied_tests(py, work, "asyncssh==2.24.1", "tests")
    if new:
        patch(root / "tests" / "util.py", ANCHOR_ASYNCSSH, HARNESS_ASYNCSSH)
    return twice(py, root, ["tests", "-n", jobs])


def run_aioquic(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    root, new = copied_tests(py, work, "aioquic==1.7.2", "tests")
    if new:
        (root / "tests" / "conftest.py").write_text(HARNESS_POLICY)
    return twice(py, root, ["tests", "-n", jobs])


def run_aiosmtpd(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    root, new = copied_tests(py, work, "aiosmtpd==1.4.6", "aiosmtpd/tests")
    if new:
        (root / "pytest.ini").write_text(AIOSMTPD_INI)
        conftest = root / "tests" / "conftest.py"
        conftest.write_text(conftest.read_text() + HARNESS_POLICY)
    # One process: xdist cannot send one of its test ids (a lone surrogate) between
    # processes.
    return twice(py, root, ["tests", "-p", "no:xdist"])


def run_tornado(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """Tornado's unittest runner (its tests ship in the wheel), once per loop."""
    script = work / "tornado-runtests.py"
    script.write_text(HARNESS_TORNADO)
    runs = []
    for env in ({}, {"AIOXIDE_THIRDPARTY": "1"}):
        proc = sh([py, script], cwd=work, env=dict(os.environ, **env), check=False,
                  capture_output=True, text=True, timeout=1800)
        summary = re.findall(r"^(?:Ran .*|OK.*|FAILED .*)$", proc.stderr, re.M)
        print("   ", " ".join(summary[-2:]) or proc.stderr[-2000:], flush=True)
        runs.append({f"tornado {m.group(2)}" for m in
                     re.finditer(r"^(FAIL|ERROR): \S+ \((\S+)\)", proc.stderr, re.M)})
        if not summary:
            runs[-1].add("tornado: the runner reported no result")
    return runs[0], runs[1]


def run_asyncpg(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """asyncpg's unittest suite under pytest, one process (its clusters and databases
    are shared between tests). It makes its own PostgreSQL clusters with pg_config's
    programs."""
    if shutil.which("pg_config") is None:
        print("   no pg_config on PATH (Debian's postgresql, libpq-dev): not run")
        return set(), {"asyncpg: not run (no PostgreSQL server programs)"}
    root, new = copied_tests(py, work, "asyncpg==0.32.0", "tests")
    if new:
        (root / "tests" / "conftest.py").write_text(HARNESS_POLICY)
    args = ["tests", "-p", "no:xdist"]
    prefix = unprivileged(py)
    ref, _ = pytest(py, root, args, prefix=prefix)
    ax, _ = pytest(py, root, args, {"AIOXIDE_THIRDPARTY": "1"}, prefix=prefix)
    return ref, ax


# The suites run with pytest-asyncio, in a virtualenv of their own (pytest-asyncio would
# take part in every other suite's run).
PYTEST_ASYNCIO_DEPS = [
    "pytest", "pytest-asyncio", "pytest-timeout", "packaging", "mock",
    # redis-py's tests
    "redis==8.1.0", "numpy", "ujson", "xxhash", "redis-entraid==1.2.1", "pybreaker",
    "aiohttp", "opentelemetry-api", "opentelemetry-sdk", "invoke", "click",
    # asgiref's, aiofiles' and hypercorn's tests
    "asgiref==3.13.0", "aiofiles==25.1.0", "hypercorn==0.18.0", "pytest-trio", "trio",
    "httpx", "h2", "wsproto", "hypothesis", "mypy",
    # pyzmq's and aioconsole's tests
    "pyzmq==27.3.0", "tornado", "pytest-xdist", "aioconsole==0.8.2",
]
# Need a Redis Cluster or the Redis Stack modules: they fail on every loop here.
REDIS_IGNORED = ["test_cluster.py", "test_cluster_transaction.py", "test_json.py",
                 "test_search.py", "test_bloom.py", "test_timeseries.py"]


def pytest_asyncio_python(work: Path) -> Path:
    """The interpreter of the pytest-asyncio virtualenv."""
    return venv_with(work, "venv-pytest-asyncio", PYTEST_ASYNCIO_DEPS)


def pytest_asyncio_suite(py: Path, work: Path, spec: str) -> tuple[Path, Path]:
    """The pytest-asyncio virtualenv's interpreter, and the sdist of ``spec`` with the
    policy harness in its tests' conftest."""
    apy = pytest_asyncio_python(work)
    src = sdist(py, spec, work)
    add_harness(src / "tests" / "conftest.py", HARNESS_POLICY)
    return apy, src


def run_asgiref(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    apy, src = pytest_asyncio_suite(py, work, "asgiref==3.13.0")
    return twice(apy, src, ["tests", "-p", "no:xdist"])


def run_aiofiles(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    apy, src = pytest_asyncio_suite(py, work, "aiofiles==25.1.0")
    return twice(apy, src, ["tests", "-p", "no:xdist"])


def run_hypercorn(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    apy, src = pytest_asyncio_suite(py, work, "hypercorn==0.18.0")
    return twice(apy, src, ["tests", "-p", "no:xdist", "-o", "addopts="])


SANIC_DEPS = [
    "sanic==25.12.1", "sanic-testing>=23.6.0", "pytest", "pytest-xdist", "pytest-timeout",
    "pytest-sanic", "pytest-benchmark", "beautifulsoup4", "chardet==3.*", "cryptography",
    "uvicorn", "slotscheck>=0.8.0,<1",
]


def run_sanic(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """Sanic's suite in a virtualenv of its own (it brings uvloop and pytest-sanic).
    Sanic switches to uvloop's policy by itself unless USE_UVLOOP is off, so both runs
    have it off: the reference loop is stdlib asyncio, the other aioxide (the policy)."""
    spy = venv_with(work, "venv-sanic", SANIC_DEPS)
    src = sdist(py, "sanic==25.12.1", work)
    add_harness(src / "tests" / "conftest.py", HARNESS_POLICY)
    # --tb=native: pytest's own traceback formatting trips over the code Sanic rewrites
    # at startup (a SystemError from ast.parse that ends the whole run).
    args = ["tests", "-n", jobs, "--tb=native", "--ignore=tests/benchmark",
            "--ignore=tests/performance"]
    ref, _ = pytest(spy, src, args, {"SANIC_USE_UVLOOP": "false"})
    ax, _ = pytest(spy, src, args, {"SANIC_USE_UVLOOP": "false", "AIOXIDE_THIRDPARTY": "1"})
    return ref, ax


def run_redis(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """redis-py's asyncio suite (pytest-asyncio, loops from the policy) against a
    redis-server of its own, one process (the tests share the server's database)."""
    server = shutil.which("redis-server")
    if server is None:
        print("   no redis-server on PATH (Debian's redis-server): not run")
        return set(), {"redis: not run (no redis-server)"}
    rpy, src = pytest_asyncio_suite(py, work, "redis==8.1.0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        args = ["tests/test_asyncio", "-p", "no:xdist", "-o", "addopts=",
                "-o", "log_cli_level=CRITICAL", f"--redis-url=redis://127.0.0.1:{port}/0",
                *(f"--ignore=tests/test_asyncio/{name}" for name in REDIS_IGNORED)]
        return twice(rpy, src, args)
    finally:
        proc.terminate()
        proc.wait()


def run_pyzmq(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """pyzmq's suite (pytest-asyncio, loops from the policy): zmq.asyncio watches a
    ZeroMQ socket's edge-triggered descriptor with add_reader."""
    apy = pytest_asyncio_python(work)
    root, new = copied_tests(py, work, "pyzmq==27.3.0", "tests")
    if new:
        shutil.copy(sdist(py, "pyzmq==27.3.0", work) / "pytest.ini", root / "pytest.ini")
        add_harness(root / "tests" / "conftest.py", HARNESS_POLICY)
    return twice(apy, root, ["tests", "-n", jobs])


AIOCONSOLE_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def run_aioconsole(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """aioconsole's suite (pytest-asyncio): its event_loop_policy fixture, which
    parametrizes every test with stdlib asyncio's and uvloop's policies, gets aioxide's
    as a third."""
    apy = pytest_asyncio_python(work)
    root, new = copied_tests(py, work, "aioconsole==0.8.2", "tests")
    if new:
        (root / "pytest.ini").write_text(AIOCONSOLE_INI)
        conftest = root / "tests" / "conftest.py"
        uvloop_param = '        "uvloop",\n'
        patch(conftest, uvloop_param + "    ),", uvloop_param + '        "aioxide",\n    ),')
        patch(conftest, "    return request.param\n", HARNESS_AIOCONSOLE)
    failed, _ = pytest(apy, root, ["tests", "-n", jobs])
    return on_loop(failed, "default"), on_loop(failed, "aioxide")


AIOMISC_DEPS = [
    "aiomisc==18.0.37", "aiomisc-pytest", "pytest", "pytest-timeout", "pytest-xdist",
    "aiohttp", "aiohttp-asgi", "aiocarbon", "asgiref", "async-timeout", "certifi",
    "croniter<3", "dnslib", "fastapi", "grpcio", "grpcio-reflection", "grpcio-tools",
    "pytest-freezegun", "pytest-rerunfailures", "pytest-subtests", "raven", "rich",
    "setproctitle", "timeout-decorator", "uvicorn",
]


def run_aiomisc(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    """aiomisc's suite in a virtualenv of its own (its pytest plugin makes the loops;
    without uvloop installed they come from the policy): thread and process pools,
    services (TCP, UDP, TLS, aiohttp, ASGI, gRPC), signals, timeouts."""
    mpy = venv_with(work, "venv-aiomisc", AIOMISC_DEPS)
    root, new = copied_tests(py, work, "aiomisc==18.0.37", "tests")
    if new:
        add_harness(root / "tests" / "conftest.py", HARNESS_POLICY)
    return twice(mpy, root, ["tests", "-n", jobs])


SUITES = {"anyio": run_anyio, "uvloop": run_uvloop, "aiohttp": run_aiohttp,
          "aiohttp-client": run_aiohttp_client,
          "starlette": run_starlette, "httpx": run_httpx, "uvicorn": run_uvicorn,
          "asyncssh": run_asyncssh, "aioquic": run_aioquic, "aiosmtpd": run_aiosmtpd,
          "tornado": run_tornado, "asyncpg": run_asyncpg, "redis": run_redis,
          "asgiref": run_asgiref, "aiofiles": run_aiofiles, "hypercorn": run_hypercorn,
          "sanic": run_sanic, "pyzmq": run_pyzmq, "aioconsole": run_aioconsole,
          "aiomisc": run_aiomisc}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    # one work folder per interpreter (make thirdparty PY=3.14 runs beside 3.11's)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    parser.add_argument("--workdir", default=str(ROOT / "target" / "thirdparty" / version))
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--no-build", action="store_true",
                        help="no wheel: import aioxide from the checkout's python/, "
                             "as the last `make build` left it")
    opts = parser.parse_args()
    unknown = set(opts.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {', '.join(sorted(unknown))}")
    work = Path(opts.workdir)
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", venv])
        sh([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip", "maturin>=1.5,<2"])
    wheels = work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    if opts.no_build:
        if not list((ROOT / "python" / "aioxide").glob("_aioxide.*.so")):
            parser.error("--no-build: no extension in python/aioxide (make build)")
    else:
        sh([venv / "bin" / "maturin", "build", "--release", "--quiet", "-i", py, "-o", wheels],
           cwd=ROOT, env={**os.environ, "CARGO_TARGET_DIR": str(work / "cargo")})
    venv_with(work, "venv", DEPS)

    unexplained = []
    for name in opts.suites or list(SUITES):
        print(f"== {name}", flush=True)
        ref, ax = SUITES[name](py, work, opts.jobs)
        only = sorted(ax - ref)
        print(f"   {len(ref)} failures on the reference loop, {len(ax)} on aioxide, "
              f"{len(only)} only on aioxide")
        for test in only:
            reason = (client_gaps.excuse(test) if name == "aiohttp-client" else
                      next((why for key, why in KNOWN.items() if key in test), None))
            print(f"   {'known' if reason else 'NEW'}: {test}" + (f" ({reason})" if reason else ""))
            if reason is None:
                unexplained.append(test)
        better = sorted(ref - ax)
        if better:
            print(f"   {len(better)} fail only on the reference loop")
    print(f"thirdparty: {len(unexplained)} unexplained failures only on aioxide")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
