"""The few lines of harness each third-party suite's copy of its tests gets (see run.py):
they hand the suite's loop-selection hook an aioxide loop when asked."""

HARNESS_ANYIO_PARAM = '''    pytest.param(
        ("asyncio", {"debug": True, "loop_factory": __import__("aioxide").new_event_loop}),
        id="asyncio+aioxide",
    ),
]'''

HARNESS_BLOCKBUSTER = '''
        # aioxide's counterparts of the stdlib calls blockbuster allows (see "What the loop
        # thread may wait for" in docs/architecture.md):
        for func in ("os.stat", "os.unlink"):
            bb.functions[func].can_block_in(
                "aioxide/_servers.py", {"create_unix_server", "_stop_serving", "close"})
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

# aiohttp's tests/test_client_functional.py with aioxide.http as the client: the names
# the tests (and TestClient, which makes the aiohttp_client fixture's session) look up at
# run time, before the test module imports them. aiohttp's own modules keep the names
# they bound at import; only these lookups change.
HARNESS_AIOHTTP_CLIENT = '''

# aioxide harness: with AIOH_CLIENT_AIOXIDE set, aiohttp's client is aioxide.http's:
# each name aioxide.http exports that aiohttp also has (ClientSession, request,
# TCPConnector, ClientTimeout, BasicAuth, CookieJar, FormData, Fingerprint, TraceConfig,
# the exceptions, ...) in aiohttp and aiohttp.client_exceptions, so pytest.raises(X)
# meets the class aioxide.http raises; and the ClientSession of aiohttp.client and
# aiohttp.test_utils (TestClient's, so the aiohttp_client fixture's session).
import os as _os

if _os.environ.get("AIOH_CLIENT_AIOXIDE"):
    import aiohttp as _aiohttp
    import aiohttp.client as _aiohttp_client
    import aiohttp.client_exceptions as _aiohttp_exceptions
    import aiohttp.test_utils as _aiohttp_test_utils
    from aioxide import http as _http

    for _name in _http.__all__:
        if hasattr(_aiohttp, _name):
            setattr(_aiohttp, _name, getattr(_http, _name))
        if hasattr(_aiohttp_exceptions, _name):
            setattr(_aiohttp_exceptions, _name, getattr(_http, _name))
    _aiohttp_client.ClientSession = _http.ClientSession
    _aiohttp_test_utils.ClientSession = _http.ClientSession
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
    ignore:Unclosed client session <aioxide.http._session.ClientSession object at 0x:ResourceWarning
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

# aioconsole's event_loop_policy fixture: an "aioxide" parameter next to its own two.
HARNESS_AIOCONSOLE = """    elif request.param == "aioxide":  # aioxide harness
        import aioxide

        return aioxide.EventLoopPolicy()
    return request.param
"""
