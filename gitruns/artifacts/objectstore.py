"""Object stores by URL (``s3://``, ``gs://``, ``az://``, ``file://``, ``sftp://`` ...) through
fsspec, with the user's own credentials (environment, ``~/.aws``, gcloud, ssh config).

Layout under the URL: ``objects/<aa>/<bb>/<sha256>``, the same as git-lfs's local store,
so a ``file://`` store on a shared disk can be read by hand. Uploads skip objects already
there (content-addressed: same name, same bytes); on stores without atomic writes
(``file``, ``sftp``) an upload goes to a temporary name first. Downloads resume a partial
file left by an interrupted transfer, hash as they write, and start over when the bytes do
not match the sha256.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitruns.errors import ArtifactError

INSTALL_HINT = "install the extra: pip install 'gitruns[artifacts]' (and s3fs, gcsfs or adlfs)"
_CHUNK = 1 << 20
# Buffer of a streamed read or write: memory stays near this whatever the file's size (a
# plain s3fs put_file of a large file buffers ten 50 MiB parts at once). S3 parts must be
# at least 5 MiB.
BLOCK = 8 << 20
UPLOAD_PARTS = 4
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}
Progress = Callable[[int], object]  # bytes moved since the last call


class ObjectStore:
    """One object store, by URL, with fsspec storage options (``endpoint_url`` ...)."""

    def __init__(self, url: str, options: Mapping[str, str] | None = None) -> None:
        try:
            from fsspec.core import url_to_fs
        except ImportError as exc:
            raise ArtifactError(f"fsspec is needed for {url}", INSTALL_HINT) from exc
        self.url = url.rstrip("/")
        try:
            self.fs, self.root = url_to_fs(self.url, **_storage_options(options or {}))
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"cannot open the object store {url} ({exc})", INSTALL_HINT
            ) from exc
        self.root = self.root.rstrip("/")
        protocol = self.fs.protocol
        self.protocols = {protocol} if isinstance(protocol, str) else set(protocol)

    def key(self, sha256: str) -> str:
        return f"{self.root}/objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def size_of(self, sha256: str) -> int | None:
        """The stored object's size, or None when the store does not have it."""
        try:
            info = self.fs.info(self.key(sha256))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("look up", exc) from exc
        size = info.get("size")
        return int(size) if size is not None else None

    def upload(self, local: Path, sha256: str, size: int, progress: Progress | None = None) -> bool:
        """Send one object unless the store has it already; True when bytes were sent."""
        if self.size_of(sha256) == size:
            return False
        target = self.key(sha256)
        atomic = bool(self.protocols & _ATOMIC_PUT)
        written = target if atomic else f"{target}.tmp-{secrets.token_hex(6)}"
        try:
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            if "s3" in self.protocols:
                # s3fs sends parts in parallel; a few parts of BLOCK bound its memory.
                self.fs.put_file(
                    str(local), written, callback=_callback(progress), chunksize=BLOCK,
                    max_concurrency=UPLOAD_PARTS,
                )  # fmt: skip
            else:
                self._stream_up(local, written, progress)
            if not atomic:
                self.fs.mv(written, target)
        except OSError as exc:
            raise self._error("upload to", exc) from exc
        return True

    def _stream_up(self, local: Path, written: str, progress: Progress | None) -> None:
        with local.open("rb") as source, self.fs.open(written, "wb", block_size=BLOCK) as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                if progress is not None:
                    progress(len(chunk))

    def download(self, sha256: str, size: int, partial: Path, progress: Progress | None) -> bool:
        """Fill ``partial`` with the object, resuming what it already holds; True when its
        sha256 matches (False: the bytes are wrong and ``partial`` was emptied)."""
        digest = hashlib.sha256()
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have:
            with partial.open("rb") as done:
                while chunk := done.read(_CHUNK):
                    digest.update(chunk)
        try:
            remote = self.fs.open(self.key(sha256), "rb", block_size=BLOCK)
            with remote as source, partial.open("ab") as out:
                if have:
                    source.seek(have)
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"object {sha256} is not in the object store {self.url}",
                "push it from a clone that has it: gitruns artifacts push RUN",
            ) from exc
        except OSError as exc:
            raise self._error("download from", exc) from exc
        if digest.hexdigest() == sha256 and partial.stat().st_size == size:
            return True
        partial.unlink(missing_ok=True)
        return False

    def _error(self, action: str, exc: Exception) -> ArtifactError:
        return ArtifactError(
            f"cannot {action} the object store {self.url} ({type(exc).__name__}: {exc})",
            "check the URL (gitruns artifacts remote list) and your credentials for it",
        )


def _callback(progress: Progress | None) -> Any:
    """An fsspec callback that reports bytes sent to ``progress``."""
    from fsspec.callbacks import Callback

    class Report(Callback):  # type: ignore[misc]
        def relative_update(self, inc: int = 1) -> None:
            if progress is not None:
                progress(inc)

    return Report()


def _storage_options(options: Mapping[str, str]) -> dict[str, Any]:
    """``key=value`` strings from git config, with true/false/numbers as such."""
    parsed: dict[str, Any] = {}
    for key, value in options.items():
        lowered = value.lower()
        if lowered in ("true", "false"):
            parsed[key] = lowered == "true"
        elif value.isdigit():
            parsed[key] = int(value)
        else:
            parsed[key] = value
    return parsed
