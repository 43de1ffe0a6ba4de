"""``TraceConfig``: aiohttp's request tracing hooks. Each ``on_<event>`` is a list of
``async def cb(session, trace_config_ctx, params)``; the list freezes when a session
takes the config. Without trace configs a request does no tracing work at all."""

from __future__ import annotations

import contextvars
import dataclasses
from types import SimpleNamespace


def _params(name: str, *fields: str):
    return dataclasses.make_dataclass(
        name, [(f, object) for f in fields], frozen=True, slots=True)


TraceRequestStartParams = _params("TraceRequestStartParams", "method", "url", "headers")
TraceRequestChunkSentParams = _params("TraceRequestChunkSentParams", "method", "url", "chunk")
TraceResponseChunkReceivedParams = _params("TraceResponseChunkReceivedParams", "method", "url",
                                           "chunk")
TraceRequestEndParams = _params("TraceRequestEndParams", "method", "url", "headers",
                                "response")
TraceRequestExceptionParams = _params("TraceRequestExceptionParams", "method", "url",
                                      "headers", "exception")
TraceRequestRedirectParams = _params("TraceRequestRedirectParams", "method", "url", "headers",
                                     "response")
TraceConnectionQueuedStartParams = _params("TraceConnectionQueuedStartParams")
TraceConnectionQueuedEndParams = _params("TraceConnectionQueuedEndParams")
TraceConnectionCreateStartParams = _params("TraceConnectionCreateStartParams")
TraceConnectionCreateEndParams = _params("TraceConnectionCreateEndParams")
TraceConnectionReuseconnParams = _params("TraceConnectionReuseconnParams")
TraceDnsResolveHostStartParams = _params("TraceDnsResolveHostStartParams", "host")
TraceDnsResolveHostEndParams = _params("TraceDnsResolveHostEndParams", "host")
TraceDnsCacheHitParams = _params("TraceDnsCacheHitParams", "host")
TraceDnsCacheMissParams = _params("TraceDnsCacheMissParams", "host")
TraceRequestHeadersSentParams = _params("TraceRequestHeadersSentParams", "method", "url",
                                        "headers")

EVENTS = {
    "request_start": TraceRequestStartParams,
    "request_chunk_sent": TraceRequestChunkSentParams,
    "response_chunk_received": TraceResponseChunkReceivedParams,
    "request_end": TraceRequestEndParams,
    "request_exception": TraceRequestExceptionParams,
    "request_redirect": TraceRequestRedirectParams,
    "connection_queued_start": TraceConnectionQueuedStartParams,
    "connection_queued_end": TraceConnectionQueuedEndParams,
    "connection_create_start": TraceConnectionCreateStartParams,
    "connection_create_end": TraceConnectionCreateEndParams,
    "connection_reuseconn": TraceConnectionReuseconnParams,
    "dns_resolvehost_start": TraceDnsResolveHostStartParams,
    "dns_resolvehost_end": TraceDnsResolveHostEndParams,
    "dns_cache_hit": TraceDnsCacheHitParams,
    "dns_cache_miss": TraceDnsCacheMissParams,
    "request_headers_sent": TraceRequestHeadersSentParams,
}


class _Signal(list):
    """A list of callbacks that refuses changes once frozen."""

    frozen = False

    def _check(self, *args, **kwargs):
        if self.frozen:
            raise RuntimeError("Cannot modify frozen list.")

    def _guard(name):  # noqa: N805 - builds the guarded mutators below
        def method(self, *args, **kwargs):
            self._check()
            return getattr(list, name)(self, *args, **kwargs)
        return method

    append = _guard("append")
    extend = _guard("extend")
    insert = _guard("insert")
    remove = _guard("remove")
    pop = _guard("pop")
    clear = _guard("clear")
    __setitem__ = _guard("__setitem__")
    __delitem__ = _guard("__delitem__")
    __iadd__ = _guard("__iadd__")
    del _guard


class TraceConfig:
    """Callbacks for a request's life: ``on_request_start``, ``on_request_end``,
    ``on_request_exception``, ``on_request_redirect``, ``on_request_headers_sent``,
    ``on_request_chunk_sent``, ``on_response_chunk_received``, the connection and DNS
    events."""

    def __init__(self, trace_config_ctx_factory=SimpleNamespace) -> None:
        self._factory = trace_config_ctx_factory
        self._signals = {event: _Signal() for event in EVENTS}

    def trace_config_ctx(self, trace_request_ctx=None):
        return self._factory(trace_request_ctx=trace_request_ctx)

    def freeze(self) -> None:
        for signal in self._signals.values():
            signal.frozen = True

    def __getattr__(self, name: str):
        event = name[3:] if name.startswith("on_") else name[4:] if name.startswith(
            "_on_") else None  # aiohttp keeps each list as `_on_<event>` too
        if event in EVENTS:
            return self.__dict__["_signals"][event]
        raise AttributeError(name)


class Traces:
    """The trace configs of one request, each with its context."""

    __slots__ = ("_session", "_pairs", "_started")

    def __init__(self, session, configs, trace_request_ctx) -> None:
        self._session = session
        self._pairs = [(c, c.trace_config_ctx(trace_request_ctx)) for c in configs]
        self._started = 0  # configs whose request_start callbacks all returned

    async def send(self, event: str, *args) -> None:
        # A failure goes only to the configs that saw the request start (as aiohttp).
        pairs = self._pairs[:self._started] if event == "request_exception" else self._pairs
        params = None
        for config, ctx in pairs:
            callbacks = config._signals[event]
            if callbacks:
                if params is None:
                    params = EVENTS[event](*args)
                for cb in callbacks:
                    await cb(self._session, ctx, params)
            if event == "request_start":
                self._started += 1


# The traces of the request a task is connecting for, for the connector's DNS events.
current: contextvars.ContextVar[Traces | None] = contextvars.ContextVar(
    "aioxide_http_traces", default=None)
