"""Run the dashboard: bind the address, serve with uvicorn until Ctrl-C.

The socket is bound here, before uvicorn starts, so that ``--port 0`` (any free port)
prints the port it got and a port in use is a plain error instead of a uvicorn log line.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from gitruns.errors import GitrunsError
from gitruns.ui.security import Policy, host_header


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6 by the address given)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise GitrunsError(f"cannot resolve host '{host}' ({exc})", "give an IP address") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise GitrunsError(
                f"port {port} on {host} is already in use",
                "pass --port with another number, or --port 0 for any free port",
            ) from exc
        raise GitrunsError(f"cannot listen on {host}:{port} ({exc.strerror})", "") from exc
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{host_header(shown, port)}/"


def serve(
    repo: str,
    sock: socket.socket,
    host: str,
    allow_edit: bool,
    on_ready: Callable[[str], None],
) -> None:
    """Serve the repository at ``repo`` on ``sock`` until interrupted."""
    import asyncio

    import uvicorn

    from gitruns.ui.app import create_app

    port = sock.getsockname()[1]
    app = create_app(repo, Policy.for_address(host, port, allow_edit))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            on_ready(url_of(sock, host))
        await task

    asyncio.run(run())
