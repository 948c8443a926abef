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
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitruns.errors import InvalidInputError

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

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "uri": self.uri,
            "media_type": self.media_type,
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

    def log(self, source: Path, artifact_path: str | None) -> list[ArtifactPointer]:
        """Store a file, or every file under a folder; return their pointers."""
        if not source.exists():
            raise InvalidInputError(f"artifact {source} does not exist", "check the path")
        base = artifact_path.strip("/") if artifact_path else ""
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            names = [p.relative_to(source).as_posix() for p in files]
            prefix = base or source.name
            return [self._pointer(p, f"{prefix}/{n}") for p, n in zip(files, names, strict=True)]
        name = f"{base}/{source.name}" if base else source.name
        return [self._pointer(source, name)]

    def _pointer(self, source: Path, name: str) -> ArtifactPointer:
        if ".." in name.split("/"):
            raise InvalidInputError(f"artifact path {name!r} contains '..'", "use a plain name")
        sha, size = self.put(source)
        media_type = _media_type(source.name)
        return ArtifactPointer(name, sha, size, f"{URI_SCHEME}:sha256/{sha}", media_type)


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
