"""docs/usage.md's recipes, each run the way a user runs it.

Every test writes the recipe's files to ``tmp_path`` and starts the recipe's own command
in a subprocess (its own session, so that workers can be killed with it), on 127.0.0.1
and port 0 (or a socket bound by the script). It then makes one HTTP request, whose body
names the class of the loop that served it, stops the server with the signal a user
would send and checks that every process of the session is gone. The test-runner
recipes run a nested pytest instead.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

# What every app returns: "aioxide" when the running loop is aioxide's, else its class.
LOOPNAME = '''
import asyncio

import aioxide


def loop_name():
    loop = asyncio.get_running_loop()
    return "aioxide" if isinstance(loop, aioxide.Loop) else repr(type(loop))
'''

ASGI_APP = '''
from loopname import loop_name


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": loop_name().encode()})
'''


def _write(directory: Path, **files: str) -> None:
    (directory / "loopname.py").write_text(LOOPNAME)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip())


def _env(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory),
                                                      env.get("PYTHONPATH")]))
    return env


class _Server:
    """A subprocess in its own session; its output (stdout and stderr) is collected."""

    def __init__(self, args: list[str], cwd: Path):
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=_env(cwd), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            start_new_session=True)
        self._lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        """The first match of ``pattern`` in the output, waiting for it to appear."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = regex.search("".join(self._lines))
                if match:
                    return match
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    pytest.fail(f"no {pattern!r} in the output "
                                f"(exit code {self.proc.poll()}):\n{''.join(self._lines)}")
                self._cond.wait(left)

    def stop(self, sig: int, timeout: float = 20) -> int:
        """Send ``sig`` to the main process only (as ``kill`` does) and wait for the whole
        session to end; returns the main process's exit code."""
        self.proc.send_signal(sig)
        try:
            code = self.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout} s after {signal.Signals(sig).name}:\n"
                        f"{self.output}")
        deadline = time.monotonic() + timeout
        while self._session_alive():
            assert time.monotonic() < deadline, f"workers left running:\n{self.output}"
            time.sleep(0.05)
        return code

    def wait(self, timeout: float) -> int:
        """Wait for the main process to exit and for the end of its output."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def _session_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(10)
        self.proc.stdout.close()


@contextlib.contextmanager
def _server(args: list[str], cwd: Path):
    server = _Server(args, cwd)
    try:
        yield server
    finally:
        server.kill()  # a no-op after a clean stop; the whole session on failure


def _get(port: int, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _run(args: list[str], cwd: Path, timeout: float = 45) -> subprocess.CompletedProcess:
    """Run a command to completion (it is killed with its session on timeout)."""
    with _server(args, cwd) as proc:
        code = proc.wait(timeout)
        return subprocess.CompletedProcess(args, code, proc.output)


UVICORN_RUNNING = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"


@contextlib.contextmanager
def _uvicorn(app: str, cwd: Path):
    """The uvicorn recipe serving ``app``: yields the server and its port, then stops it
    with SIGINT and checks that it exited cleanly."""
    with _server([sys.executable, "-m", "uvicorn", app, "--loop", "aioxide:new_event_loop",
                  "--host", "127.0.0.1", "--port", "0"], cwd) as server:
        yield server, int(server.wait_for(UVICORN_RUNNING)[1])
        assert server.stop(signal.SIGINT) == 0


@pytest.mark.timeout(60)
def test_uvicorn_cli(tmp_path):
    pytest.importorskip("uvicorn")
    _write(tmp_path, **{"app.py": ASGI_APP})
    with _uvicorn("app:app", tmp_path) as (_, port):
        assert _get(port) == (200, "aioxide")


@pytest.mark.timeout(60)
def test_hypercorn_serve(tmp_path):
    pytest.importorskip("hypercorn")
    _write(tmp_path, **{"app.py": ASGI_APP, "serve.py": """
        import aioxide
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        from app import app

        config = Config()
        config.bind = ["127.0.0.1:0"]
        aioxide.run(serve(app, config))
        """})
    with _server([sys.executable, "serve.py"], tmp_path) as server:
        port = int(server.wait_for(r"Running on http://127\.0\.0\.1:(\d+)")[1])
        assert _get(port) == (200, "aioxide")
        assert server.stop(signal.SIGINT) == 0


@pytest.mark.timeout(60)
def test_gunicorn_uvicorn_worker(tmp_path):
    pytest.importorskip("gunicorn")
    pytest.importorskip("uvicorn_worker")
    _write(tmp_path, **{"app.py": ASGI_APP, "workers.py": """
        from uvicorn_worker import UvicornWorker


        class AioxideWorker(UvicornWorker):
            CONFIG_KWARGS = {"loop": "aioxide:new_event_loop", "http": "auto"}
        """})
    # --no-control-socket: gunicorn 27 would otherwise bind ~/.gunicorn/gunicorn.ctl,
    # one path for every gunicorn of the user (the tests run in parallel).
    with _server([sys.executable, "-m", "gunicorn", "app:app", "-k", "workers.AioxideWorker",
                  "-w", "2", "-b", "127.0.0.1:0", "--no-control-socket"],
                 tmp_path) as server:
        port = int(server.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)")[1])
        server.wait_for(r"Application startup complete")
        assert _get(port) == (200, "aioxide")
        assert server.stop(signal.SIGTERM) == 0
    assert "Using worker: workers.AioxideWorker" in server.output


SANIC_APP = """
    from loopname import loop_name
    from sanic import Sanic
    from sanic.response import text

    app = Sanic("demo")


    @app.get("/")
    async def index(request):
        return text(loop_name())
    """


@pytest.mark.timeout(60)
def test_sanic_own_server(tmp_path):
    pytest.importorskip("sanic")
    # The recipe's server.py, plus what the test needs: a socket bound to port 0.
    _write(tmp_path, **{"server.py": """
        import aioxide
        from loopname import loop_name
        from sanic import Sanic
        from sanic.response import text

        aioxide.install()
        app = Sanic("demo")
        app.config.USE_UVLOOP = False


        @app.get("/")
        async def index(request):
            return text(loop_name())


        if __name__ == "__main__":
            import socket

            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            print("port", sock.getsockname()[1])
            app.run(sock=sock, workers=2)
        """})
    with _server([sys.executable, "server.py"], tmp_path) as server:
        port = int(server.wait_for(r"port (\d+)")[1])
        for worker in ("Srv 0", "Srv 1"):
            server.wait_for(rf"{worker}.*Worker ready")
        assert _get(port) == (200, "aioxide")
        # Sanic's main process polls every 0.1 s until it has seen both workers' "ack"; a
        # SIGINT before that leaves it polling for ~30 s (on the stdlib loop as well).
        time.sleep(1)
        assert server.stop(signal.SIGINT) == 0


@pytest.mark.timeout(60)
def test_sanic_as_asgi_app(tmp_path):
    pytest.importorskip("sanic")
    pytest.importorskip("uvicorn")
    _write(tmp_path, **{"server.py": SANIC_APP})
    with _uvicorn("server:app", tmp_path) as (server, port):
        assert _get(port) == (200, "aioxide")
    assert "server: ASGI" in server.output


NESTED_PYTEST_INI = """
    [pytest]
    asyncio_default_fixture_loop_scope = function
    """


def _nested_pytest(directory: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "-W", "error", str(directory)], directory)


# The nested suite of the test-runner recipes: an async test and an async fixture must
# both run on one aioxide loop; a plain test stays plain.
NESTED_TESTS = """
import asyncio

import aioxide
import pytest
{imports}

{fixture}
async def fixture_loop():
    yield asyncio.get_running_loop()


@pytest.mark.{marker}
async def test_on_aioxide(fixture_loop):
    assert isinstance(asyncio.get_running_loop(), aioxide.Loop)
    assert fixture_loop is asyncio.get_running_loop()


def test_sync_test_untouched():
    assert True
"""


def _check_nested_suite(directory: Path, conftest: str, **names: str) -> None:
    _write(directory, **{"pytest.ini": NESTED_PYTEST_INI, "conftest.py": conftest,
                         "test_recipe.py": NESTED_TESTS.format(**names)})
    result = _nested_pytest(directory)
    assert result.returncode == 0, result.stdout
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout


@pytest.mark.timeout(60)
def test_pytest_asyncio_loop_factories_hook(tmp_path):
    pytest.importorskip("pytest_asyncio")
    _check_nested_suite(tmp_path, """
        import aioxide


        def pytest_asyncio_loop_factories(config, item):
            return {"aioxide": aioxide.new_event_loop}
        """, imports="import pytest_asyncio", fixture="@pytest_asyncio.fixture",
        marker="asyncio")


@pytest.mark.timeout(60)
def test_anyio_run(tmp_path):
    pytest.importorskip("anyio")
    _write(tmp_path, **{"main.py": """
        import aioxide
        import anyio
        from loopname import loop_name


        async def main():
            await anyio.to_thread.run_sync(sum, [1, 2])
            return loop_name()


        print(anyio.run(main, backend="asyncio",
                        backend_options={"loop_factory": aioxide.new_event_loop}))
        """})
    result = _run([sys.executable, "main.py"], tmp_path)
    assert (result.returncode, result.stdout) == (0, "aioxide\n")


@pytest.mark.timeout(60)
def test_anyio_pytest_plugin(tmp_path):
    pytest.importorskip("anyio")
    _check_nested_suite(tmp_path, """
        import aioxide
        import pytest


        @pytest.fixture
        def anyio_backend():
            return "asyncio", {"loop_factory": aioxide.new_event_loop}
        """, imports="", fixture="@pytest.fixture", marker="anyio")


@pytest.mark.timeout(60)
def test_django_async_view(tmp_path):
    pytest.importorskip("django")
    pytest.importorskip("uvicorn")
    # One file for settings, urls, the view and manage.py.
    _write(tmp_path, **{"mysite.py": """
        import sys
        import threading
        from pathlib import Path

        import django
        from django.conf import settings

        settings.configure(
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                   "NAME": Path(__file__).with_name("db.sqlite3")}},
        )
        django.setup()

        from aioxide.sync import sync_to_async
        from django.contrib.auth.models import User
        from django.core.asgi import get_asgi_application
        from django.http import HttpResponse
        from django.urls import path
        from loopname import loop_name


        def add_user(name):
            User.objects.create(username=name)
            return User.objects.count(), threading.current_thread().name


        async def index(request):
            count, thread = await sync_to_async(add_user)(request.GET["name"])
            return HttpResponse(f"{loop_name()} {count} {thread}")


        urlpatterns = [path("", index)]
        application = get_asgi_application()

        if __name__ == "__main__":
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """})
    migrate = _run([sys.executable, "mysite.py", "migrate", "-v", "0"], tmp_path)
    assert migrate.returncode == 0, migrate.stdout
    with _uvicorn("mysite:application", tmp_path) as (_, port):
        assert _get(port, "/?name=ada") == (200, "aioxide 1 aioxide-sync-shared-1")
        assert _get(port, "/?name=bob") == (200, "aioxide 2 aioxide-sync-shared-1")


@pytest.mark.timeout(60)
def test_aiohttp_run_app(tmp_path):
    pytest.importorskip("aiohttp")
    _write(tmp_path, **{"server.py": """
        import aioxide
        from aiohttp import web
        from loopname import loop_name


        async def index(request):
            return web.Response(text=loop_name())


        app = web.Application()
        app.router.add_get("/", index)
        web.run_app(app, host="127.0.0.1", port=0, loop=aioxide.new_event_loop())
        """})
    with _server([sys.executable, "server.py"], tmp_path) as server:
        port = int(server.wait_for(r"Running on http://127\.0\.0\.1:(\d+)")[1])
        assert _get(port) == (200, "aioxide")
        assert server.stop(signal.SIGINT) == 0
