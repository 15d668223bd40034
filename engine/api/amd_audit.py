"""HTTP endpoints of the AMD audit loop: a supervisor lists a campaign's recorded machine-classified samples,
listens to one, and labels it human or machine (the label is audited and feeds the campaign's abandon budget)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.api.auth import identity
from engine.api.http import ApiError, Raw, Request, Router
from engine.api.outbound import errors
from engine.campaigns.manager import Campaigns

SUPERVISING = ("admin", "supervisor")
MAX_LIST = 1000


def _limit(req: Request) -> int:
    raw = req.query.get("limit", ["100"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise ApiError(400, f"limit: {raw!r} is not a whole number from 1 to {MAX_LIST}")
    return int(raw)


def register(router: Router, campaigns: Campaigns, sessions: sessionmaker[Session]) -> None:
    """Add the AMD audit routes to ``router``."""
    route: Callable = router.route
    base = r"/api/campaigns/(?P<name>[^/]+)/amd-samples"

    @route("GET", base)
    def amd_samples(req: Request, name: str) -> Any:
        """List a campaign's AMD audit samples, oldest first (``?unlabelled=1`` for those waiting for a label,
        ``?limit=N``), with its count of false negatives from agents' dispositions."""
        req.require(*SUPERVISING)
        unlabelled = req.query.get("unlabelled", ["0"])[0]
        if unlabelled not in ("0", "1", "true", "false"):
            raise ApiError(400, f"unlabelled: {unlabelled!r} is not 1 or 0")
        limit = _limit(req)
        with errors():
            return campaigns.amd_samples(name, unlabelled=unlabelled in ("1", "true"), limit=limit)

    @route("POST", base + r"/(?P<sample_id>\d+)/label")
    def amd_sample_label(req: Request, name: str, sample_id: str) -> Any:
        """Label a recorded sample ``{"label": "human"|"machine"}``. Human means AMD hung up on a person (a false
        positive); the campaign's false-positive estimate and abandon budget follow at once. Audited."""
        label = req.body.get("label")
        with sessions() as s:
            actor = identity(req, s, *SUPERVISING).name
        if not isinstance(label, str):
            raise ApiError(400, "label: required string, human or machine")
        with errors():
            return campaigns.label_amd_sample(name, int(sample_id), label, actor)

    @route("GET", base + r"/(?P<sample_id>\d+)/audio")
    def amd_sample_audio(req: Request, name: str, sample_id: str) -> Raw:
        """The recorded first seconds of a sampled call, as WAV."""
        req.require(*SUPERVISING)
        with errors():
            data = campaigns.amd_sample_audio(name, int(sample_id)).read_bytes()
        return Raw("200 OK", [("Content-Type", "audio/wav"), ("Content-Length", str(len(data)))], [data])
