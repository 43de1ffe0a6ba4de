"""Async generator finalization: the hooks run_forever installs, shutdown_asyncgens."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest


def test_shutdown_asyncgens_closes_a_suspended_generator(loop):
    events = []

    async def agen():
        try:
            events.append("start")
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0)  # finalization may await: it runs on the loop
            events.append("finally")

    async def main():
        gen = agen()
        assert await gen.__anext__() == 1
        return gen

    gen = loop.run_until_complete(main())
    assert events == ["start"]
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert events == ["start", "finally"]
    assert gen.ag_frame is None  # closed
    del gen


def test_shutdown_asyncgens_with_nothing_to_close(loop):
    loop.run_until_complete(loop.shutdown_asyncgens())


def test_shutdown_asyncgens_reports_errors_in_finalization(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def agen():
        try:
            yield 1
        finally:
            raise ValueError("in finally")

    async def main():
        gen = agen()
        await gen.__anext__()
        return gen

    gen = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert len(contexts) == 1
    assert contexts[0]["message"].startswith(
        "an error occurred during closing of asynchronous generator"
    )
    assert isinstance(contexts[0]["exception"], ValueError)
    assert contexts[0]["asyncgen"] is gen


def test_generator_dropped_while_running_is_closed_on_the_loop(loop):
    async def main():
        closed = loop.create_future()

        async def agen():
            try:
                yield 1
                yield 2
            finally:
                closed.set_result(asyncio.get_running_loop())

        gen = agen()
        await gen.__anext__()
        del gen
        gc.collect()
        return await asyncio.wait_for(closed, 5)

    assert loop.run_until_complete(main()) is loop


def test_asyncgen_hooks_are_restored_after_run(loop):
    before = sys.get_asyncgen_hooks()
    seen = []

    async def main():
        seen.append(sys.get_asyncgen_hooks())

    loop.run_until_complete(main())
    assert sys.get_asyncgen_hooks() == before
    inside = seen[0]
    assert inside.firstiter is not None
    assert inside.finalizer is not None
    assert inside != before


def test_iterating_a_generator_after_shutdown_asyncgens_warns(loop):
    async def agen():
        yield 1

    loop.run_until_complete(loop.shutdown_asyncgens())

    async def main():
        gen = agen()
        with pytest.warns(ResourceWarning, match="was scheduled after loop.shutdown_asyncgens"):
            await gen.__anext__()
        await gen.aclose()

    loop.run_until_complete(main())
