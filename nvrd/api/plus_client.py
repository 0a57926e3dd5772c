"""A client of the Frigate+ service: what Frigate uploads when an event is submitted for labelling.

The key comes from the environment (`PLUS_API_KEY`, `<id>:<secret>`), as in Frigate; `PLUS_API_HOST`
points the client elsewhere (a local stand-in in tests). The exchange:
  1. `GET  <host>/v1/auth/token` with HTTP basic auth (id, secret) -> `{"accessToken", "expires"}`;
     the token is reused until a minute before it expires;
  2. `GET  <host>/v1/image/signed_urls` (bearer token) -> `{"imageId", "original"|"annotate"|"thumbnail":
     {"url", "fields"}}`; each picture is POSTed as a multipart form (the given fields, `content-type`,
     then `file`) to its URL: the original at most 1920 px on its longer side (JPEG q85), the annotation
     copy 640 px (q70), the thumbnail 200 px (q70);
  3. `POST <host>/v1/image/create` `{"id": imageId, "camera": name}`;
  4. optionally `PUT <host>/v1/image/<id>/annotation` or `.../false_positive` with relative boxes.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import simplejpeg
import tornado.httpclient
from PIL import Image

DEFAULT_HOST = "https://api.frigate.video"
KEY_VARIABLE = "PLUS_API_KEY"
HOST_VARIABLE = "PLUS_API_HOST"
TOKEN_MARGIN_S = 60.0
REQUEST_TIMEOUT_S = 30.0
# (name in the signed URLs answer, longer side in px, JPEG quality)
UPLOADS = (("original", 1920, 85), ("annotate", 640, 70), ("thumbnail", 200, 70))


class PlusError(Exception):
    """The Frigate+ service refused or could not be reached; `status` is its HTTP status (599: none)."""

    def __init__(self, message: str, status: int = 599) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class PlusImages:
    """The three JPEGs of one submitted picture."""

    original: bytes
    annotate: bytes
    thumbnail: bytes

    def by_name(self, name: str) -> bytes:
        return getattr(self, name)


def _scaled(image: Image.Image, longest: int) -> Image.Image:
    width, height = image.size
    if width >= height:
        new_w = min(longest, width)
        new_h = max(1, int(new_w * height / width))
    else:
        new_h = min(longest, height)
        new_w = max(1, int(new_h * width / height))
    if (new_w, new_h) == image.size:
        return image
    return image.resize((new_w, new_h), Image.Resampling.BOX)


def prepare_images(picture: bytes) -> PlusImages:
    """The uploads of one picture file (the event's clean PNG). Raises ValueError for unreadable data."""
    try:
        with Image.open(io.BytesIO(picture)) as opened:
            image = opened.convert("RGB")
    except Exception as exc:  # Pillow raises many kinds for bad data
        raise ValueError(f"not a readable picture: {exc}") from exc
    encoded = {}
    for name, longest, quality in UPLOADS:
        pixels = np.ascontiguousarray(np.asarray(_scaled(image, longest)))
        encoded[name] = simplejpeg.encode_jpeg(pixels, quality=quality, colorspace="RGB")
    return PlusImages(**encoded)


def multipart_form(
    fields: Mapping[str, Any], file_name: str, file_bytes: bytes, file_type: str
) -> tuple[bytes, str]:
    """A multipart/form-data body (fields, then the file last, as S3-style signed POSTs want) and its
    Content-Type header."""
    boundary = secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        f"Content-Type: {file_type}\r\n\r\n".encode()
    )
    parts.append(file_bytes)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class PlusClient:
    """One Frigate+ account; safe to share within the event loop."""

    def __init__(self, key: str, host: str = DEFAULT_HOST) -> None:
        key_id, sep, secret = key.strip().partition(":")
        if not sep or not key_id or not secret:
            raise ValueError(f"{KEY_VARIABLE} must look like <id>:<secret>")
        self._key_id, self._secret = key_id, secret
        self.host = host.rstrip("/")
        self._token: str | None = None
        self._expires = 0.0
        self._http = tornado.httpclient.AsyncHTTPClient()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> PlusClient | None:
        """The client for the key in the environment; None without one. Raises ValueError for a key of
        the wrong form."""
        key = environ.get(KEY_VARIABLE, "").strip()
        if not key:
            return None
        return cls(key, environ.get(HOST_VARIABLE, "").strip() or DEFAULT_HOST)

    async def _fetch(self, url: str, method: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        request = tornado.httpclient.HTTPRequest(
            url, method=method, request_timeout=REQUEST_TIMEOUT_S, connect_timeout=10.0, **kwargs
        )
        try:
            return await self._http.fetch(request, raise_error=False)
        except OSError as exc:
            raise PlusError(f"Frigate+ at {self.host} could not be reached: {exc}") from exc

    async def _bearer(self) -> dict[str, str]:
        if self._token is None or self._expires - time.time() < TOKEN_MARGIN_S:
            basic = base64.b64encode(f"{self._key_id}:{self._secret}".encode()).decode()
            response = await self._fetch(
                f"{self.host}/v1/auth/token", "GET", headers={"Authorization": f"Basic {basic}"}
            )
            if response.code != 200:
                raise PlusError("Unable to refresh API token", response.code)
            try:
                answer = json.loads(response.body)
                self._token, self._expires = str(answer["accessToken"]), float(answer["expires"])
            except (ValueError, KeyError, TypeError) as exc:
                raise PlusError(f"Frigate+ sent an unusable token: {exc}") from exc
        return {"Authorization": f"Bearer {self._token}"}

    async def _call(self, method: str, path: str, body: Any = None) -> tornado.httpclient.HTTPResponse:
        headers = await self._bearer()
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["body"] = json.dumps(body)
        return await self._fetch(f"{self.host}/v1/{path}", method, **kwargs)

    async def upload_image(self, images: PlusImages, camera: str) -> str:
        """Upload one picture's three JPEGs and register it; returns the Frigate+ image id."""
        response = await self._call("GET", "image/signed_urls")
        if response.code != 200:
            raise PlusError("Unable to get signed urls", response.code)
        try:
            signed = json.loads(response.body)
            image_id = str(signed["imageId"])
            targets = {name: (signed[name]["url"], dict(signed[name]["fields"])) for name, _, _ in UPLOADS}
        except (ValueError, KeyError, TypeError) as exc:
            raise PlusError(f"Frigate+ sent unusable signed urls: {exc}") from exc
        for name, (url, fields) in targets.items():
            fields["content-type"] = "image/jpeg"
            body, content_type = multipart_form(fields, f"{name}.jpg", images.by_name(name), "image/jpeg")
            upload = await self._fetch(url, "POST", body=body, headers={"Content-Type": content_type})
            if upload.code >= 300:
                raise PlusError(f"Failed to upload {name}: {upload.code}", upload.code)
        created = await self._call("POST", "image/create", {"id": image_id, "camera": camera})
        if created.code >= 300:
            raise PlusError("Unable to create the image", created.code)
        return image_id

    async def add_annotation(
        self, plus_id: str, box: list[float], label: str, difficult: bool = False
    ) -> None:
        """Attach a labelled box (relative x, y, w, h) to an uploaded image."""
        payload = {"label": label, "x": box[0], "y": box[1], "w": box[2], "h": box[3], "difficult": difficult}
        response = await self._call("PUT", f"image/{plus_id}/annotation", payload)
        if response.code >= 300:
            raise PlusError("Error uploading annotation", response.code)

    async def add_false_positive(
        self,
        plus_id: str,
        *,
        region: list[float],
        box: list[float],
        score: float,
        label: str,
        model_hash: str | None,
        model_type: str | None,
        detector_type: str | None,
    ) -> None:
        """Mark a detection (relative box inside its detection region) on an uploaded image as false."""
        payload = {
            "label": label,
            "x": box[0],
            "y": box[1],
            "w": box[2],
            "h": box[3],
            "regionX": region[0],
            "regionY": region[1],
            "regionW": region[2],
            "regionH": region[3],
            "score": score,
            "model_hash": model_hash,
            "model_type": model_type,
            "detector_type": detector_type,
        }
        response = await self._call("PUT", f"image/{plus_id}/false_positive", payload)
        if response.code >= 300:
            raise PlusError("Error uploading false positive", response.code)
