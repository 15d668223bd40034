"""hotline's HTTP interface: JSON API, the agents' screen-pop feed (SSE) and /metrics."""

from engine.api.app import ApiError, Backend, make_app

__all__ = ["ApiError", "Backend", "make_app"]
