"""The local artifact store: git-lfs's own object store, outside the git object database.

Content lives where git-lfs keeps its objects, ``<lfs dir>/objects/<aa>/<bb>/<sha256>``
(``<lfs dir>`` is git config ``lfs.storage``, else ``<git common dir>/lfs``), so git-lfs
uploads a run's artifacts straight from it on ``git push`` and nothing is stored twice. The
run's tree holds only pointers (``artifacts.yaml`` and a Git LFS pointer file per artifact).
Storing the same bytes twice costs nothing.

Runs of schema_version 1 kept content in ``<git common dir>/gitruns/artifacts/sha256/<aa>/
<rest>`` (or the store named by ``GITRUNS_ARTIFACT_STORE`` / git config
``gitruns.artifactStore``): those stores are still read (``legacy_roots``), never written.
Every object gitruns adds is listed in ``<git common dir>/gitruns/lfs-objects.txt``, so that
``gitruns artifacts gc`` can tell run artifacts from the objects of the user's own LFS files.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitruns.errors import InvalidInputError
from gitruns.format import layout
from gitruns.format.lfs import artifact_uri
from gitruns.format.validation import check_artifact_path

if TYPE_CHECKING:
    from gitruns.storage import Store

_CHUNK = 1 << 20
LEDGER_FILE = "lfs-objects.txt"


@dataclass(frozen=True)
class ArtifactPointer:
    path: str
    sha256: str
    size: int
    uri: str
    media_type: str | None
    time: str | None = None  # when it was logged (UTC ISO 8601), or the file's mtime
    step: int | None = None  # the training step it belongs to, when given or in its name

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "uri": self.uri,
            "media_type": self.media_type,
            "time": self.time,
            "step": self.step,
        }


class ArtifactStore:
    """Objects by sha256: ``root/objects/<aa>/<bb>/<sha256>`` (git-lfs's layout)."""

    def __init__(
        self, root: Path, legacy_roots: tuple[Path, ...] = (), ledger: Path | None = None
    ) -> None:
        self.root = root
        self.legacy_roots = legacy_roots
        self.ledger = ledger

    def object_path(self, sha256: str) -> Path:
        """Where the object is (or would be) in the LFS store."""
        return self.root / "objects" / sha256[:2] / sha256[2:4] / sha256

    def find(self, sha256: str) -> Path | None:
        """The object's file, in the LFS store or a schema_version 1 store; None if absent."""
        for path in self.candidate_paths(sha256):
            if path.is_file():
                return path
        return None

    def candidate_paths(self, sha256: str) -> list[Path]:
        legacy = [root / "sha256" / sha256[:2] / sha256[2:] for root in self.legacy_roots]
        return [self.object_path(sha256), *legacy]

    def tmp_file(self) -> Path:
        """A fresh temporary file name beside the objects (same file system: renames work)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / f"gitruns-{os.getpid()}-{secrets.token_hex(6)}"

    def adopt(self, tmp: Path, sha256: str) -> Path:
        """Move a verified temporary file into place as the object ``sha256``."""
        target = self.object_path(sha256)
        if target.exists():
            tmp.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            tmp.replace(target)
        self.note_added([sha256])
        return target

    def note_added(self, digests: list[str]) -> None:
        """List objects as gitruns's (one append, atomic for lines below PIPE_BUF each)."""
        if self.ledger is None or not digests:
            return
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, "".join(f"{d}\n" for d in digests).encode())
        finally:
            os.close(fd)

    def listed(self) -> set[str]:
        """Every object gitruns ever added to the LFS store."""
        if self.ledger is None or not self.ledger.exists():
            return set()
        return {line for line in self.ledger.read_text().split() if len(line) == 64}

    def put(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` into the store (hashing as it copies); return (sha256, size)."""
        tmp = self.tmp_file()
        digest = hashlib.sha256()
        size = 0
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            sha = digest.hexdigest()
            self.adopt(tmp, sha)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha, size

    def log(
        self,
        source: Path,
        artifact_path: str | None,
        *,
        step: int | None = None,
        at_mtime: bool = False,
    ) -> list[ArtifactPointer]:
        """Store a file, or every file under a folder; return their pointers.

        Each pointer records when it was logged (now, or with ``at_mtime`` the file's
        modification time) and ``step``, else a step written in its name
        (:func:`step_in_name`).
        """
        if not source.exists():
            raise InvalidInputError(f"artifact {source} does not exist", "check the path")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise InvalidInputError(f"artifact step {step!r} is not an integer >= 0", "")
        base = artifact_path.strip("/") if artifact_path else ""
        now = time.time()
        if source.is_dir():
            # a git directory inside the folder (logging ".") is never an artifact
            files = sorted(
                p
                for p in source.rglob("*")
                if p.is_file() and ".git" not in p.relative_to(source).parts
            )
            names = [p.relative_to(source).as_posix() for p in files]
            prefix = base or source.name  # "." has no name: its files go at the top
            return [
                self._pointer(p, f"{prefix}/{n}" if prefix else n, step, now, at_mtime)
                for p, n in zip(files, names, strict=True)
            ]
        name = f"{base}/{source.name}" if base else source.name
        return [self._pointer(source, name, step, now, at_mtime)]

    def _pointer(
        self, source: Path, name: str, step: int | None, now: float, at_mtime: bool
    ) -> ArtifactPointer:
        check_artifact_path(name)
        when = source.stat().st_mtime if at_mtime else now
        sha, size = self.put(source)
        media_type = _media_type(source.name)
        return ArtifactPointer(
            name,
            sha,
            size,
            artifact_uri(sha),
            media_type,
            layout.iso_time(when),
            step if step is not None else _known_step(name, source),
        )


# Lightning's ``epoch=3-step=500.ckpt``, ``model_step_1000.pt``, ``iter_2000.pth``
# (MMEngine), and the Hugging Face Trainer's ``checkpoint-500/`` folders.
_STEP_IN_NAME = re.compile(
    r"(?<![a-z0-9])(?:global_step|step|iteration|iter)[=_-]?(\d+)(?![0-9])"
    r"|(?<![^/])checkpoint-(\d+)(?=/|$)",
    re.IGNORECASE,
)


def _known_step(name: str, source: Path) -> int | None:
    """The step the artifact's name states, else its local folder's (``checkpoint-500/``)."""
    found = step_in_name(name)
    if found is None:
        found = step_in_name(f"{source.parent.name}/{source.name}")
    return found


def step_in_name(name: str) -> int | None:
    """The step an artifact's name states (the last one, nearest the file name), or None:
    ``epoch=3-step=500.ckpt`` -> 500, ``checkpoint-500/model.safetensors`` -> 500."""
    found = [m.group(1) or m.group(2) for m in _STEP_IN_NAME.finditer(name)]
    return int(found[-1]) if found else None


def timeline(artifacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Artifact pointers in the order they were logged (by ``time``, then ``step``, then
    path); pointers of runs recorded before times were kept come last, by path."""

    def key(pointer: dict[str, Any]) -> tuple[bool, str, int, str]:
        when, step = pointer.get("time"), pointer.get("step")
        known_step = step if isinstance(step, int) and not isinstance(step, bool) else -1
        return (
            not isinstance(when, str),
            when if isinstance(when, str) else "",
            known_step,
            str(pointer.get("path", "")),
        )

    return sorted(artifacts, key=key)


@dataclass(frozen=True)
class ArtifactFile:
    """One artifact of a run and whether its content is here (in the local store)."""

    path: str
    sha256: str
    size: int
    uri: str
    media_type: str | None
    local_path: Path | None  # the object in the local store; None when not here

    @property
    def here(self) -> bool:
        return self.local_path is not None


def artifact_files(store: ArtifactStore, entries: list[dict[str, object]]) -> list[ArtifactFile]:
    """The entries of a run's ``artifacts.yaml`` with where each one's content is here (an
    object of the right size; ``gitruns artifacts verify`` checks the bytes)."""
    found = []
    for entry in entries:
        sha, size = str(entry["sha256"]), int(entry["size"])  # type: ignore[call-overload]
        local = store.find(sha)
        if local is not None and local.stat().st_size != size:
            local = None
        media = entry.get("media_type")
        found.append(
            ArtifactFile(
                str(entry["path"]),
                sha,
                size,
                str(entry.get("uri", "")),
                media if isinstance(media, str) else None,
                local,
            )
        )
    return found


def hash_file(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, streamed (for inputs that are recorded, not stored)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_ML_TYPES = {
    ".pt": "application/octet-stream",
    ".pth": "application/octet-stream",
    ".ckpt": "application/octet-stream",
    ".safetensors": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".npy": "application/octet-stream",
    ".onnx": "application/octet-stream",
    ".parquet": "application/vnd.apache.parquet",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}


def _media_type(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    return _ML_TYPES.get(suffix) or mimetypes.guess_type(name, strict=True)[0]


def artifact_store(store: Store) -> ArtifactStore:
    """The repository's LFS object store, with the schema_version 1 stores to read from."""
    return ArtifactStore(lfs_dir(store), legacy_roots(store), store.gitruns_dir / LEDGER_FILE)


def lfs_dir(store: Store) -> Path:
    """git-lfs's storage folder: git config ``lfs.storage`` (relative to the git common
    dir, as git-lfs reads it), else ``<git common dir>/lfs``."""
    configured = store.config_value("lfs.storage")
    if configured:
        path = Path(os.path.expanduser(configured))
        return path if path.is_absolute() else store.common_dir / path
    return store.common_dir / "lfs"


def legacy_roots(store: Store) -> tuple[Path, ...]:
    """The stores of schema_version 1, read only: the configured one, then the default."""
    roots = []
    configured = os.environ.get("GITRUNS_ARTIFACT_STORE") or store.config_value(
        "gitruns.artifactstore"
    )
    if configured:
        roots.append(Path(configured))
    roots.append(store.gitruns_dir / "artifacts")
    return tuple(roots)
