"""hotline's HTTP interface: JSON API, the agents' screen-pop feed (SSE) and /metrics."""

from engine.api.app import Backend, make_app
from engine.api.http import ApiError, Raw, Request, Router

__all__ = ["ApiError", "Backend", "Raw", "Request", "Router", "make_app"]
