"""A giftless authenticator for the tests: HTTP Basic with one user, full access.

(giftless's own ``allow_anon:read_write`` grants nothing per object, so uploads fail; and
Basic auth lets the tests check that git-lfs uses the user's git credentials.)
"""

from __future__ import annotations

import base64
from typing import Any

from giftless.auth.identity import DefaultIdentity, Permission

USER = "alice"
PASSWORD = "s3cret-lfs"


class _Everything(DefaultIdentity):
    def is_authorized(
        self, organization: str, repo: str, permission: Permission, oid: str | None = None
    ) -> bool:
        return True


def basic(request: Any) -> _Everything | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    if (user, password) != (USER, PASSWORD):
        return None
    return _Everything(name=user)
