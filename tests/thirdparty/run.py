"""Run other projects' asyncio test suites on aioxide and on their reference loop.

    python tests/thirdparty/run.py [SUITE ...] [--workdir DIR] [--jobs N]

SUITE is any of anyio, uvloop, aiohttp, starlette, httpx, uvicorn, asyncssh, aioquic,
aiosmtpd, tornado, asyncpg, redis, asgiref, aiofiles, hypercorn, sanic (default: all).

For each suite (a pinned release, its sdist from PyPI), the tests run twice: on the loop
the project tests against (stdlib asyncio) and on aioxide, through the project's own
loop-selection hook; no file of aioxide or of the project's library is changed, only the
copy of its tests gets a few lines of harness. A failure on aioxide that also fails on
the reference loop is the machine's or the suite's (no IPv6 for ``localhost``, running as
root, ...). A failure only on aioxide is either in ``KNOWN`` below, with its reason, or it
fails this run.

Not part of ``make test``: it downloads sixteen suites and runs for about 45 minutes.
``make thirdparty`` runs it; everything lives under ``target/thirdparty``. asyncpg's
suite needs PostgreSQL's server programs (Debian's ``postgresql``) and starts its own
clusters, which PostgreSQL refuses to do as root: run as root, this script runs that
suite as ``nobody``, after letting other users reach the interpreter (``chmod o+x``
on the directories above it, as asyncpg's own CI does). redis-py's asyncio suite needs
``redis-server`` (Debian's ``redis-server``). redis-py's, asgiref's, aiofiles' and
hypercorn's suites run on pytest-asyncio, in a virtualenv of their own, since
pytest-asyncio would take part in every other suite's run; Sanic's has one too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Failures only on aioxide that are understood: test-id substring -> reason.
KNOWN = {
    "test_unix.py::Test_AIO_Unix::test_create_unix_server_1":
        "expects 3.11 asyncio to leave a Unix server's socket file behind; aioxide removes "
        "it on close on every version, as 3.13's cleanup_socket default does",
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
    "test_server.py::TestUnthreaded::test_unixsocket":
        "expects 3.11 asyncio to leave a Unix server's socket file behind (see "
        "test_create_unix_server_1 above)",
    "test_cli.py::test_server_run_with_repl":
        "Sanic's REPL test is flaky on every loop under xdist (on stdlib asyncio it failed "
        "in 2 of 8 runs of test_cli.py here, once by its 60 s timeout)",
    "test_keep_alive_timeout.py::test_keep_alive_client_timeout":
        "sleeps exactly the server's 2 s keep-alive timeout and races the server's "
        "timeout check; its body, run alone 8 times per loop, failed twice on stdlib "
        "asyncio and twice on aioxide",
    "test_to_thread.py::TestBlockingPortalProvider::test_single_thread":
        "compares threading.active_count() before and after; flaky under xdist when a "
        "thread of an earlier test in the same worker is still exiting",
}

HARNESS_ANYIO_PARAM = '''    pytest.param(
        ("asyncio", {"debug": True, "loop_factory": __import__("aioxide").new_event_loop}),
        id="asyncio+aioxide",
    ),
]'''

HARNESS_BLOCKBUSTER = '''
        # aioxide's counterparts of the stdlib calls blockbuster allows:
        bb.functions["os.sendfile"].can_block_in("aioxide/_sockets.py", {"_attempt", "_step"})
        for func in ("os.stat", "os.unlink"):
            bb.functions[func].can_block_in(
                "aioxide/_servers.py", {"create_unix_server", "_stop_serving", "close"})
        bb.functions["os.read"].can_block_in(
            "aioxide/_subprocess.py", {"subprocess_exec", "subprocess_shell"})
'''

HARNESS_UVLOOP = '''

# aioxide harness: the asyncio test classes get aioxide loops when UVT_AIOXIDE is set.
import os as _os
if _os.environ.get("UVT_AIOXIDE"):
    import aioxide as _aioxide
    from uvloop import _testbase as _tb

    _tb.AIOTestCase.setUp = lambda self: _tb.BaseTestCase.setUp(self)
    _tb.AIOTestCase.tearDown = lambda self: _tb.BaseTestCase.tearDown(self)
    _tb.AIOTestCase.new_loop = lambda self: _aioxide.new_event_loop()
    _tb.AIOTestCase.new_policy = lambda self: _aioxide.EventLoopPolicy()
'''

HARNESS_AIOHTTP = '''

# aioxide harness: --aiohttp-loop=uvloop runs on aioxide when AIOH_AIOXIDE is set.
def pytest_sessionstart(session):
    import os as _os
    if _os.environ.get("AIOH_AIOXIDE"):
        import sys as _sys
        import types as _types

        import aioxide as _aioxide
        _plugin = _sys.modules["aiohttp.pytest_plugin"]
        _plugin.uvloop = _types.SimpleNamespace(new_event_loop=_aioxide.new_event_loop)
'''

HARNESS_ANYIO_BACKEND = '''

# aioxide harness: every anyio test runs on stdlib asyncio and on aioxide.
import aioxide as _aioxide


@pytest.fixture(params=[
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"loop_factory": _aioxide.new_event_loop}), id="aioxide"),
])
def anyio_backend(request):
    return request.param
'''

HARNESS_POLICY = '''

# aioxide harness: every new event loop is an aioxide loop when AIOXIDE_THIRDPARTY is set.
import asyncio as _asyncio
import os as _os

if _os.environ.get("AIOXIDE_THIRDPARTY"):
    import aioxide as _aioxide

    _asyncio.set_event_loop_policy(_aioxide.EventLoopPolicy())
    _probe = _asyncio.new_event_loop()
    assert isinstance(_probe, _aioxide.Loop)
    _probe.close()
'''

ANCHOR_ASYNCSSH = ("        if uvloop_available and os.environ.get('USE_UVLOOP'):"
                   " # pragma: no cover\n")
HARNESS_ASYNCSSH = (
    "        if os.environ.get('AIOXIDE_THIRDPARTY'):\n"
    "            cls.loop = __import__('aioxide').new_event_loop()\n"
    "        elif uvloop_available and os.environ.get('USE_UVLOOP'): # pragma: no cover\n"
)

# Tornado's own runner (unittest), its loops from the policy.
HARNESS_TORNADO = '''"""tornado.test.runtests on the policy's loops (aioxide's if asked)."""
import asyncio
import os

if os.environ.get("AIOXIDE_THIRDPARTY"):
    import aioxide

    asyncio.set_event_loop_policy(aioxide.EventLoopPolicy())
    probe = asyncio.new_event_loop()
    assert isinstance(probe, aioxide.Loop)
    probe.close()

from tornado.test.runtests import all, main  # noqa: E402,F401 (main runs __main__.all)

main()
'''

AIOSMTPD_INI = """[pytest]
filterwarnings =
    error
    ignore:pkg_resources is deprecated as an API:DeprecationWarning
    ignore:unclosed transport:ResourceWarning
    ignore:unclosed <socket.socket:ResourceWarning
    ignore:unclosed event loop:ResourceWarning
    ignore:loop is closed:ResourceWarning
    ignore::pytest.PytestUnknownMarkWarning
xfail_strict = true
"""

AIOHTTP_INI = """[pytest]
addopts = --strict-markers -m "not dev_mode and not autobahn and not internal"
filterwarnings =
    error
    ignore:Unclosed client session <aiohttp.client.ClientSession object at 0x:ResourceWarning
    ignore:coroutine method 'aclose' of 'BodyPartReader:RuntimeWarning
    ignore:aiohttp.pytest_plugin will be removed in v4:DeprecationWarning
xfail_strict = true
testpaths = tests/
markers =
    dev_mode: mark test to run in dev mode.
    internal: tests which may cause issues for packagers.
    skip_blockbuster: mark test to skip the blockbuster fixture.
    autobahn: Autobahn testsuite.
"""

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


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=kw.pop("check", True), **kw)


def sdist(py: Path, spec: str, into: Path) -> Path:
    """Unpack the sdist of ``spec`` (``name==version``) under ``into``; its directory."""
    name, version = spec.split("==")
    target = into / f"{name}-{version}"
    if not target.exists():
        sh([py, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
            "-d", into, spec])
        with tarfile.open(into / f"{name}-{version}.tar.gz") as tar:
            tar.extractall(into, filter="data")
    return target


def patch(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if new in text:
        return
    if old not in text:
        raise SystemExit(f"{path}: the harness's anchor is gone ({old.strip()[:60]!r})")
    path.write_text(text.replace(old, new, 1))


def failures(output: str) -> set[str]:
    """Test ids pytest reported FAILED, SUBFAILED(...) or ERROR (summary lines)."""
    pattern = r"^(?:SUB)?(?:FAILED|ERROR)(?:\(.*?\))? (tests/\S+)"
    return {m.group(1) for m in re.finditer(pattern, output, re.M)}


def on_loop(ids: set, token: str) -> set:
    """The ids whose parameters name ``token``, with that name replaced by ``LOOP``."""
    pattern = re.compile(rf"(?<![\w+]){re.escape(token)}(?![\w+])")
    return {pattern.sub("LOOP", t) for t in ids if pattern.search(t.partition("[")[2])}


def pytest(py: Path, cwd: Path, args: list[str], env: dict | None = None,
           prefix: list[str] | None = None) -> tuple[set, str]:
    full_env = dict(os.environ, **(env or {}))
    proc = sh([*(prefix or []), py, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
               "--timeout", "120", *args],
              cwd=cwd, env=full_env, check=False, capture_output=True, text=True)
    tail = [line for line in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    summary = tail[-1] if tail else proc.stdout[-2000:] + proc.stderr[-2000:]
    print("   ", summary, flush=True)
    return failures(proc.stdout), summary


def venv_with(work: Path, name: str, deps: list[str]) -> Path:
    """The interpreter of ``work/<name>``, a virtualenv with ``deps`` and the aioxide
    wheel just built (reinstalled on every run)."""
    venv = work / name
    vpy = venv / "bin" / "python"
    if not vpy.exists():
        sh([sys.executable, "-m", "venv", venv])
    sh([vpy, "-m", "pip", "install", "--quiet", *deps])
    sh([vpy, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
        *(work / "wheels").glob("aioxide-*.whl")])
    return vpy


def add_harness(conftest: Path, harness: str) -> None:
    """Append ``harness`` to a suite's conftest (made if missing), once."""
    text = conftest.read_text() if conftest.exists() else ""
    if "aioxide harness" not in text:
        conftest.write_text(text + harness)


def run_anyio(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    src = sdist(py, "anyio==4.16.0", work)
    conftest = src / "tests" / "conftest.py"
    patch(conftest, '        id=f"asyncio+{uvloop_name}",\n    ),\n]',
          '        id=f"asyncio+{uvloop_name}",\n    ),\n' + HARNESS_ANYIO_PARAM)
    patch(conftest, "        yield bb\n", HARNESS_BLOCKBUSTER + "        yield bb\n")
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
    if not tests.exists():
        shutil.copytree(src / "tests", tests / "tests")
        (tests / "tests" / "conftest.py").write_text(HARNESS_UVLOOP)
    args = ["tests", "-n", jobs, "-k", "AIO", "-p", "no:anyio"]
    ref, _ = pytest(py, tests, args)
    ax, _ = pytest(py, tests, args, {"UVT_AIOXIDE": "1"})
    return ref, ax


def run_aiohttp(py: Path, work: Path, jobs: str) -> tuple[set, set]:
    src = sdist(py, "aiohttp==3.14.5", work)
    tests = work / "aiohttp-tests"
    if not tests.exists():
        shutil.copytree(src / "tests", tests / "tests")
        (tests / "pytest.ini").write_text(AIOHTTP_INI)
        conftest = tests / "tests" / "conftest.py"
        patch(conftest, '        bb.functions["threading.Lock.acquire"].deactivate()\n',
              '        bb.functions["threading.Lock.acquire"].deactivate()\n'
              + HARNESS_BLOCKBUSTER)
        conftest.write_text(conftest.read_text() + HARNESS_AIOHTTP)
    ref, _ = pytest(py, tests, ["tests", "-n", jobs, "--aiohttp-loop=pyloop"])
    ax, _ = pytest(py, tests, ["tests", "-n", jobs, "--aiohttp-loop=uvloop"],
                   {"AIOH_AIOXIDE": "1"})
    # Tests without the loop parameter keep their ids on both runs.
    return ({re.sub(r"\bpyloop\b", "LOOP", t) for t in ref},
            {re.sub(r"\buvloop\b", "LOOP", t) for t in ax})


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


def copied_tests(py: Path, work: Path, spec: str, tests_dir: str) -> tuple[Path, bool]:
    """A copy of the sdist's tests under ``work/<name>-tests/tests``; whether it is new."""
    src = sdist(py, spec, work)
    root = work / f"{spec.split('==')[0]}-tests"
    if root.exists():
        return root, False
    shutil.copytree(src / tests_dir, root / "tests")
    return root, True


def twice(py: Path, root: Path, args: list[str]) -> tuple[set, set]:
    """The suite on the reference loop, then with AIOXIDE_THIRDPARTY set."""
    ref, _ = pytest(py, root, args)
    ax, _ = pytest(py, root, args, {"AIOXIDE_THIRDPARTY": "1"})
    return ref, ax


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


def unprivileged(py: Path) -> list[str]:
    """The command prefix that runs as ``nobody`` when this script runs as root (for
    programs that refuse root); nothing otherwise."""
    if os.geteuid() != 0:
        return []
    # Each directory above the interpreter must be searchable by other users.
    for d in [*Path(py).resolve().parents, *py.parents]:
        if d.stat().st_mode & 0o001 == 0:
            sh(["chmod", "o+x", d])
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            "env", "HOME=/tmp"]


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
]
# Need a Redis Cluster or the Redis Stack modules: they fail on every loop here.
REDIS_IGNORED = ["test_cluster.py", "test_cluster_transaction.py", "test_json.py",
                 "test_search.py", "test_bloom.py", "test_timeseries.py"]


def pytest_asyncio_suite(py: Path, work: Path, spec: str) -> tuple[Path, Path]:
    """The pytest-asyncio virtualenv's interpreter, and the sdist of ``spec`` with the
    policy harness in its tests' conftest."""
    apy = venv_with(work, "venv-pytest-asyncio", PYTEST_ASYNCIO_DEPS)
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


SUITES = {"anyio": run_anyio, "uvloop": run_uvloop, "aiohttp": run_aiohttp,
          "starlette": run_starlette, "httpx": run_httpx, "uvicorn": run_uvicorn,
          "asyncssh": run_asyncssh, "aioquic": run_aioquic, "aiosmtpd": run_aiosmtpd,
          "tornado": run_tornado, "asyncpg": run_asyncpg, "redis": run_redis,
          "asgiref": run_asgiref, "aiofiles": run_aiofiles, "hypercorn": run_hypercorn,
          "sanic": run_sanic}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--workdir", default=str(ROOT / "target" / "thirdparty"))
    parser.add_argument("--jobs", default="2")
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
    sh([venv / "bin" / "maturin", "build", "--release", "--quiet", "-o", wheels], cwd=ROOT)
    venv_with(work, "venv", DEPS)

    unexplained = []
    for name in opts.suites or list(SUITES):
        print(f"== {name}", flush=True)
        ref, ax = SUITES[name](py, work, opts.jobs)
        only = sorted(ax - ref)
        print(f"   {len(ref)} failures on the reference loop, {len(ax)} on aioxide, "
              f"{len(only)} only on aioxide")
        for test in only:
            reason = next((why for key, why in KNOWN.items() if key in test), None)
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
