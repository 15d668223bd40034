"""The agent desktop and the supervisor wallboard: static pages served by hotline.

The pages are plain HTML + JavaScript (fetch + EventSource, no framework). They hold no data:
everything they show comes from the token-protected JSON API, so serving them openly exposes
nothing. ``register`` adds ``/desktop/`` (agent), ``/desktop/wallboard`` and their assets; ``/desktop`` redirects to
``/desktop/`` (the pages' relative links need the slash).
"""

from __future__ import annotations

from importlib import resources

from engine.api.http import ApiError, Raw, Request, Router

PAGES = {
    "": ("agent.html", "text/html; charset=utf-8"),
    "wallboard": ("wallboard.html", "text/html; charset=utf-8"),
    "lang.js": ("lang.js", "text/javascript; charset=utf-8"),
    "desktop.js": ("desktop.js", "text/javascript; charset=utf-8"),
    "wallboard.js": ("wallboard.js", "text/javascript; charset=utf-8"),
    "desktop.css": ("desktop.css", "text/css; charset=utf-8"),
}


def register(router: Router) -> None:
    """Serve the desktop's static files."""

    @router.route("GET", "/desktop", open=True, produces="text/html")
    def bare(req: Request) -> Raw:
        """``/desktop`` as typed: on to ``/desktop/``."""
        return Raw("308 Permanent Redirect", [("Location", "/desktop/"), ("Content-Length", "0")], [b""])

    @router.route("GET", "/desktop/(?P<name>[a-z.]*)", open=True, produces="text/html")
    def page(req: Request, name: str) -> Raw:
        """A desktop page or asset (no data; the page logs in against the API)."""
        if name not in PAGES:
            raise ApiError(404, f"/desktop/{name}: no such page")
        filename, content_type = PAGES[name]
        body = resources.files(__package__).joinpath("static", filename).read_bytes()
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")]
        return Raw("200 OK", headers, [body])
