"""HTTP endpoints of the AMD audit loop: a supervisor lists a campaign's recorded machine-classified samples,
listens to one, and labels it human or machine (the label is audited and feeds the campaign's abandon budget)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from engine.api.auth import identity
from engine.api.http import Raw, Request, Router
from engine.api.inputs import Body, Query
from engine.api.outbound import errors
from engine.campaigns.manager import Campaigns

SUPERVISING = ("admin", "supervisor")
MAX_LIST = 1000


class SamplesQuery(Query):
    unlabelled: Literal["0", "1", "true", "false"] = "0"
    limit: Annotated[int, Field(ge=1, le=MAX_LIST)] = 100


class LabelBody(Body):
    label: Literal["human", "machine"]


def register(router: Router, campaigns: Campaigns, sessions: sessionmaker[Session]) -> None:
    """Add the AMD audit routes to ``router``."""
    route: Callable = router.route
    base = r"/api/campaigns/(?P<name>[^/]+)/amd-samples"

    @route("GET", base, query=SamplesQuery)
    def amd_samples(req: Request, name: str) -> Any:
        """List a campaign's AMD audit samples, oldest first (``?unlabelled=1`` for those waiting for a label,
        ``?limit=N``), with its count of false negatives from agents' dispositions."""
        req.require(*SUPERVISING)
        unlabelled, limit = req.params.unlabelled, req.params.limit
        with errors():
            return campaigns.amd_samples(name, unlabelled=unlabelled in ("1", "true"), limit=limit)

    @route("POST", base + r"/(?P<sample_id>\d+)/label", body=LabelBody)
    def amd_sample_label(req: Request, name: str, sample_id: str) -> Any:
        """Label a recorded sample ``{"label": "human"|"machine"}``. Human means AMD hung up on a person (a false
        positive); the campaign's false-positive estimate and abandon budget follow at once. Audited."""
        label = req.input.label
        with sessions() as s:
            actor = identity(req, s, *SUPERVISING).name
        with errors():
            return campaigns.label_amd_sample(name, int(sample_id), label, actor)

    @route("GET", base + r"/(?P<sample_id>\d+)/audio", produces="audio/wav")
    def amd_sample_audio(req: Request, name: str, sample_id: str) -> Raw:
        """The recorded first seconds of a sampled call, as WAV."""
        req.require(*SUPERVISING)
        with errors():
            data = campaigns.amd_sample_audio(name, int(sample_id)).read_bytes()
        return Raw("200 OK", [("Content-Type", "audio/wav"), ("Content-Length", str(len(data)))], [data])
