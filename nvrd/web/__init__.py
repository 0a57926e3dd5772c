"""The web page on port 5000: static HTML, CSS and JavaScript modules served by nvrd itself.

Everything the page shows it reads from the HTTP API, so this module only serves files: `/` is the
page and `/ui/<file>` its assets. Nothing is built or downloaded; the files work offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tornado.web

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
URL_PREFIX = "/ui/"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The page reads only its own server: no inline script, no third-party origin. Framing stays
# allowed: Home Assistant users show the page in an iframe panel.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class WebFileHandler(tornado.web.StaticFileHandler):
    """A file of the web page. Browsers revalidate every time (the ETag makes that a 304), so a
    firmware update shows its new page at once without a versioned URL scheme."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        if (self.absolute_path or "").endswith(".html"):
            self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)

    def get_content_type(self) -> str:
        # A minimal image may lack /etc/mime.types, and module scripts must be served as JavaScript.
        known = CONTENT_TYPES.get(Path(self.absolute_path or "").suffix)
        return known or super().get_content_type()


def routes() -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The page's routes: exactly `/` and `/ui/...`, so no API, media or VOD path is shadowed."""
    args = {"path": str(STATIC_DIR), "default_filename": INDEX}
    return [
        (r"/()", WebFileHandler, args),
        (rf"{URL_PREFIX}(.*)", WebFileHandler, args),
    ]
