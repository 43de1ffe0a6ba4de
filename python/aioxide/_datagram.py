"""Datagram endpoints: ``create_datagram_endpoint``; the transport is in
``_transports/datagram.py``.
"""

from __future__ import annotations

import os
import socket
import stat
from asyncio.log import logger

from . import _resolve, _versions
from ._transports.datagram import DatagramTransport


class DatagramMixin:
    def _make_datagram_transport(self, sock, protocol, address=None, waiter=None,
                                 extra=None):
        return DatagramTransport(self, sock, protocol, address, waiter, extra)

    async def _datagram_address_pairs(self, local_addr, remote_addr, family, proto, flags):
        """``[((family, proto), (local, remote)), ...]`` to try, in order."""
        if not (local_addr or remote_addr):
            if family == 0:
                raise ValueError("unexpected address family")
            return [((family, proto), (None, None))]
        if family == getattr(socket, "AF_UNIX", None):
            for addr in (local_addr, remote_addr):
                if addr is not None and not isinstance(addr, str):
                    raise TypeError("string is expected")
            if local_addr and local_addr[0] not in (0, "\x00"):
                try:
                    if stat.S_ISSOCK(os.stat(local_addr).st_mode):
                        os.remove(local_addr)
                except FileNotFoundError:
                    pass
                except OSError as err:
                    logger.error("Unable to check or remove stale UNIX socket %r: %r",
                                 local_addr, err)
            return [((family, proto), (local_addr, remote_addr))]
        by_key: dict = {}
        for idx, addr in ((0, local_addr), (1, remote_addr)):
            if addr is None:
                continue
            if not (isinstance(addr, tuple) and len(addr) == 2):
                raise TypeError("2-tuple is expected")
            infos = await _resolve.resolve(self, addr, family=family, type_=socket.SOCK_DGRAM,
                                           proto=proto, flags=flags)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            for fam, _, pro, _, address in infos:
                by_key.setdefault((fam, pro), [None, None])[idx] = address
        pairs = [(key, pair) for key, pair in by_key.items()
                 if not ((local_addr and pair[0] is None) or (remote_addr and pair[1] is None))]
        if not pairs:
            raise ValueError("can not get address information")
        return pairs

    async def create_datagram_endpoint(self, protocol_factory, local_addr=None,
                                       remote_addr=None, *, family=0, proto=0, flags=0,
                                       reuse_port=None, allow_broadcast=None, sock=None):
        """A datagram socket and its transport; returns ``(transport, protocol)``."""
        r_addr = None
        if sock is not None:
            if _versions.DATAGRAM_REJECTS_ONLY_STREAM:
                if sock.type == socket.SOCK_STREAM:
                    raise ValueError(f"A datagram socket was expected, got {sock!r}")
            elif sock.type != socket.SOCK_DGRAM:
                raise ValueError(f"A UDP Socket was expected, got {sock!r}")
            opts = dict(local_addr=local_addr, remote_addr=remote_addr, family=family,
                        proto=proto, flags=flags, reuse_port=reuse_port,
                        allow_broadcast=allow_broadcast)
            if any(opts.values()):
                problems = ", ".join(f"{k}={v}" for k, v in opts.items() if v)
                raise ValueError("socket modifier keyword arguments can not be used "
                                 f"when sock is specified. ({problems})")
            sock.setblocking(False)
        else:
            pairs = await self._datagram_address_pairs(local_addr, remote_addr, family,
                                                       proto, flags)
            sock, r_addr = await self._open_datagram_socket(pairs, local_addr, remote_addr,
                                                            reuse_port, allow_broadcast)
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = self._make_datagram_transport(sock, protocol, r_addr, waiter)
        if self.get_debug():
            if local_addr:
                logger.info("Datagram endpoint local_addr=%r remote_addr=%r "
                            "created: (%r, %r)", local_addr, remote_addr, transport, protocol)
            else:
                logger.debug("Datagram endpoint remote_addr=%r created: (%r, %r)",
                             remote_addr, transport, protocol)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    async def _open_datagram_socket(self, pairs, local_addr, remote_addr, reuse_port,
                                    allow_broadcast):
        exceptions = []
        for (fam, pro), (local_address, remote_address) in pairs:
            sock = None
            try:
                sock = socket.socket(family=fam, type=socket.SOCK_DGRAM, proto=pro)
                if reuse_port:
                    _resolve.set_reuseport(sock)
                if allow_broadcast:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sock.setblocking(False)
                if local_addr:
                    sock.bind(local_address)
                r_addr = None
                if remote_addr:
                    if not allow_broadcast:
                        await self.sock_connect(sock, remote_address)
                    r_addr = remote_address
                return sock, r_addr
            except OSError as exc:
                if sock is not None:
                    sock.close()
                exceptions.append(exc)
            except BaseException:
                if sock is not None:
                    sock.close()
                raise
        try:
            raise exceptions[0]
        finally:
            exceptions = None  # no cycle: the error's traceback holds this frame
