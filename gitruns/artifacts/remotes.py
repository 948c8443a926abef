"""Where artifacts travel: a git remote's LFS endpoint (the default), or an object store by
URL added with ``gitruns artifacts remote add``.

Stored in the repository's git config::

    [gitruns-artifacts "team"]
        url = s3://bucket/ml-artifacts
        option = endpoint_url=http://127.0.0.1:9000     # fsspec storage options, optional
    [gitruns "origin"]
        artifacts = team      # runs pushed to / fetched from origin keep artifacts in "team"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitruns.errors import ArtifactError
from gitruns.sharing.gitcli import run_git
from gitruns.storage import Store

SECTION = "gitruns-artifacts"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file", "sftp", "ssh", "memory", "hf")


@dataclass(frozen=True)
class ObjectStoreRemote:
    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Destination:
    """Where one transfer goes: a git remote's LFS endpoint or an object store."""

    name: str
    object_store: ObjectStoreRemote | None = None  # None: git-lfs through git remote ``name``

    @property
    def label(self) -> str:
        if self.object_store is None:
            return f"git-lfs on '{self.name}'"
        return f"'{self.name}' ({self.object_store.url})"


def add_remote(store: Store, name: str, url: str, options: dict[str, str]) -> ObjectStoreRemote:
    """Add (or replace) an object-store remote; fsspec is only needed when it is used."""
    if not _NAME.match(name):
        raise ArtifactError(
            f"'{name}' cannot name an artifacts remote", "use letters, digits, - _ ."
        )
    if name in store.remote_names():
        raise ArtifactError(
            f"'{name}' is already a git remote (its LFS endpoint needs no setup)",
            "pick another name for the object store",
        )
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ArtifactError(
            f"'{url}' is not an object store URL gitruns knows",
            f"use one of {', '.join(s + '://' for s in _SCHEMES)}",
        )
    _git(store, "config", "--local", "--remove-section", f"{SECTION}.{name}", check=False)
    _git(store, "config", "--local", f"{SECTION}.{name}.url", url)
    for key, value in sorted(options.items()):
        _git(store, "config", "--local", "--add", f"{SECTION}.{name}.option", f"{key}={value}")
    return ObjectStoreRemote(name, url, dict(options))


def remove_remote(store: Store, name: str) -> None:
    if name not in {r.name for r in list_remotes(store)}:
        raise ArtifactError(
            f"no artifacts remote '{name}'", "list them: gitruns artifacts remote list"
        )
    _git(store, "config", "--local", "--remove-section", f"{SECTION}.{name}")
    for remote in store.remote_names():
        if bound_store(store, remote) == name:
            _git(store, "config", "--local", "--unset", f"gitruns.{remote}.artifacts")


def list_remotes(store: Store) -> list[ObjectStoreRemote]:
    result = run_git(
        store, ["config", "--get-regexp", rf"^{re.escape(SECTION)}\..*\.(url|option)$"]
    )
    urls: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        name, _, kind = key[len(SECTION) + 1 :].rpartition(".")
        if kind == "url":
            urls[name] = value
        elif "=" in value:
            option, _, setting = value.partition("=")
            options.setdefault(name, {})[option] = setting
    return [ObjectStoreRemote(n, urls[n], options.get(n, {})) for n in sorted(urls)]


def bind(store: Store, git_remote: str, name: str | None) -> None:
    """Runs pushed to ``git_remote`` keep their artifacts in object store ``name`` (None:
    back to git-lfs)."""
    if name is None:
        _git(
            store,
            "config",
            "--local",
            "--unset-all",
            f"gitruns.{git_remote}.artifacts",
            check=False,
        )
        return
    if name not in {r.name for r in list_remotes(store)}:
        raise ArtifactError(
            f"no artifacts remote '{name}'",
            f"add it first: gitruns artifacts remote add {name} URL",
        )
    _git(store, "config", "--local", f"gitruns.{git_remote}.artifacts", name)


def bound_store(store: Store, git_remote: str) -> str | None:
    return store.config_value(f"gitruns.{git_remote}.artifacts")


def destination(store: Store, name: str | None, origin: str | None = None) -> Destination:
    """The transfer target: ``name`` (an artifacts remote or a git remote) when given; else
    the remote a fetched run came from, else the default git remote; a git remote bound to
    an object store (``gitruns.<remote>.artifacts``) means that store."""
    stores = {r.name: r for r in list_remotes(store)}
    if name is not None and name in stores:
        return Destination(name, stores[name])
    git_remote = name or origin or default_git_remote(store)
    if git_remote is None:
        raise ArtifactError(
            "this repository has no git remote and no artifacts remote",
            "add one: git remote add origin URL, or gitruns artifacts remote add NAME URL",
        )
    if git_remote not in store.remote_names():
        known = ", ".join(sorted([*store.remote_names(), *stores])) or "none"
        raise ArtifactError(f"no remote '{git_remote}' (known: {known})", "name a known remote")
    bound = bound_store(store, git_remote)
    if bound and bound in stores:
        return Destination(bound, stores[bound])
    return Destination(git_remote)


def default_git_remote(store: Store) -> str | None:
    """The current branch's upstream remote, else ``origin``, else the only remote."""
    names = store.remote_names()
    head = run_git(store, ["symbolic-ref", "--quiet", "--short", "HEAD"]).stdout.strip()
    upstream = store.config_value(f"branch.{head}.remote") if head else None
    if upstream in names:
        return upstream
    if "origin" in names:
        return "origin"
    return names[0] if len(names) == 1 else None


def _git(store: Store, *args: str, check: bool = True) -> None:
    result = run_git(store, args)
    if check and result.returncode != 0:
        raise ArtifactError(
            f"git {' '.join(args)} failed: {result.stderr.strip()}", "check .git/config"
        )
