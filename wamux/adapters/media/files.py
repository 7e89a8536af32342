"""Media bytes on disk under `DATA_DIR/media/<instance>/`, named by content hash (dedup for free)."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from pathlib import Path

from wamux.domain.text import safe_extension


class FileMediaStore:
    """Writes media atomically (temp file + rename + fsync) and returns a path relative to the media root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str:
        digest = hashlib.sha256(data).hexdigest()[:32]
        # The on-disk name is ours: a hash and a short plain extension, whatever the sender called the file.
        ext = safe_extension(file_name) or mimetypes.guess_extension(mime_type or "") or ".bin"
        rel = f"{instance_id}/{digest}{ext}"
        path = self.root / rel
        if path.exists():
            return rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return rel

    def open_path(self, rel: str) -> Path | None:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file():
            return None
        return path
