"""Web links for a review: commit and compare pages on the host of the repository.

GitHub-style hosts (GitHub, Gitea, Forgejo) use ``/commit/<sha>`` and ``/compare/a...b``;
GitLab adds ``/-/``. The web address comes from what CI says (``GITHUB_SERVER_URL`` and
``GITHUB_REPOSITORY``, GitLab's ``CI_PROJECT_URL``), else from the remote's URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_URL = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)$")


@dataclass(frozen=True)
class WebLinks:
    base_url: str  # https://github.com/owner/repo
    gitlab: bool = False

    def commit(self, sha: str) -> str:
        return f"{self.base_url}{'/-' if self.gitlab else ''}/commit/{sha}"

    def compare(self, base: str, head: str) -> str:
        return f"{self.base_url}{'/-' if self.gitlab else ''}/compare/{base}...{head}"


def links_from_ci(env: Mapping[str, str]) -> WebLinks | None:
    """The repository's web address as GitHub Actions or GitLab CI give it, if they do."""
    server, repository = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repository:
        return WebLinks(f"{server.rstrip('/')}/{repository}")
    if env.get("CI_PROJECT_URL"):
        return WebLinks(env["CI_PROJECT_URL"].rstrip("/"), gitlab=True)
    return None


def links_from_remote(url: str | None) -> WebLinks | None:
    """``git@github.com:o/r.git`` or ``https://gitlab.com/g/p.git`` -> the web address;
    None for local paths and hosts gitruns cannot tell the page layout of."""
    if not url:
        return None
    match = _URL.match(url) or _SCP_LIKE.match(url)
    if match is None:
        return None
    host, path = match.group("host").lower(), match.group("path").removesuffix(".git").strip("/")
    if not path or not ("github" in host or "gitlab" in host or "gitea" in host):
        return None
    return WebLinks(f"https://{host}/{path}", gitlab="gitlab" in host)


def web_links(
    env: Mapping[str, str], remote_url: str | None, override: str | None = None
) -> WebLinks | None:
    """``override`` (``--link-base``), else CI's variables, else the remote URL."""
    if override:
        return WebLinks(override.rstrip("/"), gitlab="/-/" in override or "gitlab" in override)
    return links_from_ci(env) or links_from_remote(remote_url)
