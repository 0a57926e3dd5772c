"""What every handler shares: JSON in Frigate's conventions, errors that never leak a traceback, and
query-string parsing that answers a bad parameter with a 400 naming it."""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

import tornado.web

if TYPE_CHECKING:
    from nvrd.app import Daemon

log = logging.getLogger(__name__)


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


class BaseHandler(tornado.web.RequestHandler):
    """Base of all API handlers."""

    daemon: Daemon

    def initialize(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    # --- responses -------------------------------------------------------------------------------

    def write_json(self, value: Any, status: int = 200) -> None:
        """Send a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(to_json(value))

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
