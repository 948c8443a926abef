"""A content-addressed artifact store outside the git object database.

Content lives at ``<store>/sha256/<first two hex>/<rest>``; the run's tree holds only
pointers (path, sha256, size, uri, media type). Storing the same bytes twice costs nothing.
The default store is ``<git common dir>/gitruns/artifacts``; ``GITRUNS_ARTIFACT_STORE`` or
the git config key ``gitruns.artifactStore`` move it (a shared disk, a bigger volume).
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

if TYPE_CHECKING:
    from gitruns.storage import Store

URI_SCHEME = "gitruns-store"
_CHUNK = 1 << 20


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
    def __init__(self, root: Path) -> None:
        self.root = root

    def object_path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    def put(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` into the store (hashing as it copies); return (sha256, size)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{os.getpid()}-{secrets.token_hex(6)}"
        digest = hashlib.sha256()
        size = 0
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            sha = digest.hexdigest()
            target = self.object_path(sha)
            if target.exists():
                tmp.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                tmp.replace(target)
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
            files = sorted(p for p in source.rglob("*") if p.is_file())
            names = [p.relative_to(source).as_posix() for p in files]
            prefix = base or source.name
            return [
                self._pointer(p, f"{prefix}/{n}", step, now, at_mtime)
                for p, n in zip(files, names, strict=True)
            ]
        name = f"{base}/{source.name}" if base else source.name
        return [self._pointer(source, name, step, now, at_mtime)]

    def _pointer(
        self, source: Path, name: str, step: int | None, now: float, at_mtime: bool
    ) -> ArtifactPointer:
        if ".." in name.split("/"):
            raise InvalidInputError(f"artifact path {name!r} contains '..'", "use a plain name")
        when = source.stat().st_mtime if at_mtime else now
        sha, size = self.put(source)
        media_type = _media_type(source.name)
        return ArtifactPointer(
            name,
            sha,
            size,
            f"{URI_SCHEME}:sha256/{sha}",
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
    """The configured store (GITRUNS_ARTIFACT_STORE, git config gitruns.artifactStore) or the
    repository's own."""
    configured = os.environ.get("GITRUNS_ARTIFACT_STORE")
    if not configured:
        try:
            configured = store.repo.config["gitruns.artifactstore"]
        except KeyError:
            configured = None
    return ArtifactStore(Path(configured) if configured else store.gitruns_dir / "artifacts")
