"""Who may talk to the dashboard: the page it served, from the address it was given.

A server on 127.0.0.1 is still reachable from any web page the user opens: that page's
scripts can send requests to it (cross-site request forgery) or, through a DNS name that
resolves to 127.0.0.1, read its answers (DNS rebinding). So every request must carry a
``Host`` the server answers to, and every API request must come from the dashboard's own
pages: a browser says where a request comes from in ``Origin`` and ``Sec-Fetch-Site``.
Changes (``--allow-edit``) must also be JSON, which a page of another origin cannot send
without a preflight this server never grants.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = ("GET", "HEAD")
_SAME_SITE = ("same-origin", "none")  # "none": typed in the address bar, a bookmark
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """0.0.0.0 or :: (every interface)."""
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_unspecified
    except ValueError:
        return False


def host_header(host: str, port: int) -> str:
    """How a browser writes ``host:port`` in the Host header (IPv6 in brackets)."""
    name = host.strip().strip("[]")
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


@dataclass(frozen=True)
class Policy:
    """What the server accepts: the Host values it answers to, and whether it may change
    runs. ``any_host`` is for a server bound to every interface (0.0.0.0), whose names
    cannot be known; Origin must still match Host there."""

    hosts: frozenset[str]
    allow_edit: bool = False
    any_host: bool = False

    @classmethod
    def for_address(cls, host: str, port: int, allow_edit: bool = False) -> Policy:
        names = {host_header(host, port)}
        if is_loopback(host):
            names |= {host_header(n, port) for n in LOOPBACK_NAMES}
        return cls(frozenset(names), allow_edit, any_host=is_wildcard(host))

    def refusal(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """Why the request is refused (HTTP status, message), or None to serve it."""
        host = headers.get("host", "")
        if not self.any_host and host.lower() not in self.hosts:
            return 403, f"this server does not answer to Host '{host}'"
        if not path.startswith("/api/"):
            return None
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            return 403, f"cross-origin request from {origin} refused"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in _SAME_SITE:
            return 403, f"cross-site request ({site}) refused"
        if method in _SAFE_METHODS:
            return None
        if not self.allow_edit:
            return 403, "the dashboard is read-only; restart it with 'gitruns ui --allow-edit'"
        if origin is None and site != "same-origin":
            return 403, "a change must come from the dashboard's own page"
        if not headers.get("content-type", "").startswith("application/json"):
            return 415, "a change must be sent as application/json"
        return None


class GuardMiddleware:
    """Refuse what ``Policy`` refuses; add security headers to every answer."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refused = self.policy.refusal(scope["method"], scope["path"], headers)
        if refused is not None:
            await _refuse(send, *refused)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                present = {k.lower() for k, _ in message.get("headers", [])}
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"what": "request", "message": message, "hint": ""}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
