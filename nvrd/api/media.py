"""Serving media files: streamed in chunks (never read whole), byte ranges, folder listings, safe paths.

What nginx did for Frigate (`/clips/`, `/recordings/`, `/exports/` and the clip downloads) is done
here: a single `Range: bytes=` request is answered 206 with the slice, a listing is nginx's JSON
autoindex (or a bare HTML index for `/clips/`), and a path taken from a URL never leaves its folder.
"""

from __future__ import annotations

import email.utils
import html
import os
import re
import stat
from pathlib import Path
from typing import Any

import tornado.iostream

from nvrd.api.base import BaseHandler, NotFound

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".ts": "video/MP2T",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".m3u8": "application/vnd.apple.mpegurl",
}


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single `bytes=` range, None for the whole file (no header, several
    ranges or another unit). Raises RangeNotSatisfiable for a range outside the file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        count = int(last_text)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - count), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)


def path_inside(folder: Path, relative: str) -> Path | None:
    """`folder/relative` when it stays inside `folder` and names nothing hidden, else None."""
    if "\x00" in relative or any(part.startswith(".") for part in Path(relative).parts):
        return None
    root = folder.resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        return None
    return candidate


def content_type_of(path: Path) -> str:
    """The Content-Type for a media file, by its extension."""
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


async def send_file(
    handler: BaseHandler,
    path: Path,
    *,
    content_type: str | None = None,
    download_name: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Stream `path` (or the requested byte range of it) to the client; a missing file is a 404."""
    try:
        stream = path.open("rb")
    except OSError:
        raise NotFound("File not found") from None
    with stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            byte_range = parse_range(handler.request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            handler.set_status(416)
            handler.set_header("Content-Range", f"bytes */{size}")
            handler.finish()
            return
        handler.set_header("Content-Type", content_type or content_type_of(path))
        handler.set_header("Accept-Ranges", "bytes")
        for name, value in (headers or {}).items():
            handler.set_header(name, value)
        if download_name:
            handler.set_header("Content-Disposition", f"attachment; filename={download_name}")
        first, last = (0, size - 1) if byte_range is None else byte_range
        if byte_range is not None:
            handler.set_status(206)
            handler.set_header("Content-Range", f"bytes {first}-{last}/{size}")
        remaining = max(0, last - first + 1)
        handler.set_header("Content-Length", str(remaining))
        if handler.request.method == "HEAD":
            handler.finish()
            return
        stream.seek(first)
        try:
            while remaining > 0:
                chunk = stream.read(min(CHUNK, remaining))
                if not chunk:
                    break  # the file shrank under us: end early rather than hang
                remaining -= len(chunk)
                handler.write(chunk)
                await handler.flush()
        except tornado.iostream.StreamClosedError:
            return  # the client went away
        handler.finish()


def listing_json(folder: Path) -> list[dict[str, Any]]:
    """nginx's JSON autoindex of a folder: name, type, mtime (RFC 1123, GMT) and, for files, size."""
    entries = []
    with os.scandir(folder) as found:
        for entry in sorted(found, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            try:
                info = entry.stat()
            except OSError:
                continue
            item: dict[str, Any] = {
                "name": entry.name,
                "type": "directory" if stat.S_ISDIR(info.st_mode) else "file",
                "mtime": email.utils.formatdate(info.st_mtime, usegmt=True),
            }
            if item["type"] == "file":
                item["size"] = info.st_size
            entries.append(item)
    return entries


def listing_html(folder: Path, url_path: str) -> str:
    """A bare HTML index of a folder (what nginx's autoindex gives for `/clips/`)."""
    rows = [f'<a href="{html.escape(e["name"])}">{html.escape(e["name"])}</a>' for e in listing_json(folder)]
    title = html.escape(url_path)
    return (
        f"<html><head><title>Index of {title}</title></head><body><h1>Index of {title}</h1><hr><pre>"
        + "\n".join(['<a href="../">../</a>', *rows])
        + "</pre><hr></body></html>"
    )


class MediaFolderHandler(BaseHandler):
    """`GET /<prefix>/<path>`: a file of a media folder, or the folder's listing."""

    def initialize(self, daemon, folder_attr: str, listing: str = "json") -> None:
        super().initialize(daemon)
        self.folder_attr = folder_attr
        self.listing = listing

    def set_default_headers(self) -> None:
        pass  # media may be cached by the browser (nginx sent no Cache-Control for these folders)

    async def get(self, relative: str | None = None) -> None:
        folder = Path(getattr(self.daemon.config.storage, self.folder_attr))
        path = path_inside(folder, relative or ".")
        if path is None:
            raise NotFound("Not found", text=True)
        if path.is_dir():
            if not self.request.path.endswith("/"):
                self.redirect(self.request.path + "/", permanent=True)
                return
            if self.listing == "html":
                self.write_text(listing_html(path, self.request.path))
            else:
                self.write_json(listing_json(path))
            return
        await self.serve(path)

    async def serve(self, path: Path) -> None:
        """Send one file of the folder (subclasses may build missing ones)."""
        if not path.is_file():
            raise NotFound("Not found", text=True)
        await send_file(self, path)
