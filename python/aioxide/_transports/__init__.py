"""The transports, in asyncio's vocabulary: thin ``asyncio`` transport subclasses
around the native cores (``transport/`` in the bindings) that own the state and do the
I/O.

| module | transports |
|---|---|
| ``base`` | what the faces share: ``CoreFace``, ``SocketFace``, ``CoreReading``, ``CoreWriting`` |
| ``sockets`` | ``SocketTransport`` (TCP and Unix streams) |
| ``datagram`` | ``DatagramTransport`` (UDP and Unix datagrams) |
| ``pipes`` | ``ReadPipeTransport``, ``WritePipeTransport`` |
| ``tls`` | ``SSLTransport`` and ``ssl_protocol()``, over the native ``TLSCore`` |
| ``subprocess`` | ``SubprocessTransport`` |
"""
