"""What every handler shares: JSON in Frigate's conventions, errors that never leak a traceback, and
query-string parsing that answers a bad parameter with a 400 naming it."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import tornado.web

from nvrd.api.response_cache import GZIP_MIN_BYTES, ResponseCache

if TYPE_CHECKING:
    from nvrd.app import Daemon

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")


class BadParameter(tornado.web.HTTPError):
    """A query or body parameter that cannot be used; answered as 400 with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(400, reason=None)
        self.message = f"Invalid parameter {name}: {reason}"


class NotFound(tornado.web.HTTPError):
    """A missing camera, event or file; answered as 404 with Frigate's JSON error body."""

    def __init__(self, message: str, *, text: bool = False) -> None:
        super().__init__(404)
        self.message = message
        self.text = text  # a few 0.13 endpoints answer 404 in plain text


def to_json(value: Any) -> str:
    """Frigate's JSON: keys sorted, compact separators."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's access log, kept quiet: every request at DEBUG, server errors at WARNING (a line per
    request at INFO would cost more than serving most answers, and fill the journal)."""
    status = handler.get_status()
    level = logging.WARNING if status >= 500 else logging.DEBUG
    if access_log.isEnabledFor(level):
        request = handler.request
        access_log.log(
            level, "%d %s %s (%s) %.2fms", status, request.method, request.uri, request.remote_ip,
            1000.0 * request.request_time(),
        )  # fmt: skip


class BaseHandler(tornado.web.RequestHandler):
    """Base of all API handlers."""

    daemon: Daemon

    def initialize(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> str | None:
        """No ETag: answers are dynamic and no client revalidates them, so hashing every body is waste."""
        return None

    # --- responses -------------------------------------------------------------------------------

    def write_json(self, value: Any, status: int = 200) -> None:
        """Send a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(to_json(value))

    def write_db_json(self, build: Callable[[], Any]) -> None:
        """Send `build()` as JSON, reusing the encoded answer to the same request while the database
        is unchanged (and its gzip form for clients that accept it)."""
        cache: ResponseCache = self.application.settings["response_cache"]
        version = self.daemon.store.change_marker()
        key = self.request.uri
        entry = cache.get(key, version)
        if entry is None:
            entry = cache.put(key, version, to_json(build()).encode())
        self.set_header("Content-Type", "application/json")
        accepts_gzip = "gzip" in self.request.headers.get("Accept-Encoding", "")
        if accepts_gzip and len(entry.body) >= GZIP_MIN_BYTES:
            self.set_header("Content-Encoding", "gzip")
            self.set_header("Vary", "Accept-Encoding")
            self.finish(entry.gzipped())
            cache.trim()
        else:
            self.finish(entry.body)

    def write_message(self, success: bool, message: str, status: int = 200, **extra: Any) -> None:
        """Frigate's `{"success": ..., "message": ...}` body."""
        self.write_json({"success": success, "message": message, **extra}, status)

    def write_text(self, text: str, status: int = 200) -> None:
        """A plain text body (Frigate's `text/html` responses)."""
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(text)

    def write_image(self, data: bytes, content_type: str = "image/jpeg", cache: str = "no-store") -> None:
        """An image body with its cache policy."""
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", cache)
        self.finish(data)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as Frigate's JSON body; never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, NotFound) and exc.text:
            self.write_text(exc.message, status_code)
            return
        message = getattr(exc, "message", None)
        if message is None:
            message = {404: "Not found", 405: "Method not allowed"}.get(status_code)
        if message is None:
            message = "An unknown error occurred" if status_code >= 500 else self._reason
        self.write_json({"success": False, "message": message}, status_code)

    async def head(self, *args: Any, **kwargs: Any) -> None:
        """HEAD wherever GET is: the GET handler runs and Tornado sends its headers without the body."""
        result = self.get(*args, **kwargs)
        if result is not None:
            await result

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, tornado.web.HTTPError) and value.status_code < 500:
            return
        log.error("%s %s failed", self.request.method, self.request.uri, exc_info=(typ, value, tb))

    # --- parameters ------------------------------------------------------------------------------

    def _raw(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return None if value is None else value.strip()

    def arg_str(self, name: str, default: str | None = None) -> str | None:
        """A string query parameter."""
        value = self._raw(name)
        return default if value in (None, "") else value

    def arg_int(
        self, name: str, default: int | None = None, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """An integer query parameter within bounds; a bad value is a 400 naming the parameter."""
        value = self._raw(name)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                raise BadParameter(name, f"{value!r} is not an integer") from None
            if not as_float.is_integer():
                raise BadParameter(name, f"{value!r} is not an integer") from None
            number = int(as_float)
        if minimum is not None and number < minimum:
            raise BadParameter(name, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise BadParameter(name, f"must be at most {maximum}")
        return number

    def arg_float(
        self,
        name: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        """A finite float query parameter within bounds."""
        value = self._raw(name)
        if value in (None, ""):
            return default
        try:
            number = float(value)
        except ValueError:
            raise BadParameter(name, f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise BadParameter(name, "must be a finite number")
        if minimum is not None and number < minimum:
            raise BadParameter(name, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise BadParameter(name, f"must be at most {maximum}")
        return number

    def arg_present(self, name: str) -> bool:
        """Frigate's `download`-style flag: any non-empty value is true (even `0`)."""
        return bool(self.get_query_argument(name, ""))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object body; an empty body is `{}` (clients send one on every request).

        A body that is not JSON, or JSON that is not an object, is a 400 naming `body`.
        """
        raw = self.request.body
        if not raw or not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadParameter("body", f"not valid JSON ({exc})") from None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadParameter("body", "must be a JSON object")
        return value

    def arg_flag(self, name: str, default: bool = False) -> bool:
        """A 0/1 query parameter."""
        value = self.arg_int(name, None)
        if value is None:
            return default
        return value != 0

    def camera_or_404(self, name: str):
        """The running camera of that name, or Frigate's 404."""
        camera = self.daemon.cameras.get(name)
        if camera is None:
            raise NotFound("Camera not found")
        return camera
