"""Audio files under their content hash: ``<root>/ab/cd/<sha256>.<format>``, never the client's name."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from callintel.errors import CallintelError


class TooLargeError(CallintelError):
    """An upload is over the size limit."""


@dataclass(frozen=True)
class Staged:
    """A file received into the staging area, not yet stored."""

    path: Path
    sha256: str
    size: int
    head: bytes


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging = self.root / ".staging"

    def stage(self, chunks: Iterable[bytes], max_bytes: int) -> Staged:
        """Write ``chunks`` to a staging file, hashing as it goes; over ``max_bytes`` the
        file is removed and :class:`TooLargeError` raised."""
        self.staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, name = tempfile.mkstemp(dir=self.staging, suffix=".part")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLargeError(f"the file is larger than the limit of {max_bytes} bytes")
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digest.hexdigest(), size, head)

    def relative_path(self, sha256: str, fmt: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{fmt}"

    def commit(self, staged: Staged, fmt: str) -> str:
        """Move a staged file to its content address (atomic rename); returns the relative path.
        If the same content is already stored, the staged copy is dropped."""
        relative = self.relative_path(staged.sha256, fmt)
        target = self.root / relative
        if target.exists():
            staged.path.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, target)
        return relative

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage path {relative!r} escapes the store")
        return path

    def delete(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)

    def delete_all(self, sha256: str) -> None:
        """Remove the stored file of this content, whatever its format suffix."""
        for path in (self.root / sha256[:2] / sha256[2:4]).glob(f"{sha256}.*"):
            path.unlink(missing_ok=True)
