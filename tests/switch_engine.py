"""The engine (Hotline) on a scripted FreeSWITCH (:class:`~tests.switch_peer.Switch`): the ``start`` fixtures
of tests/test_runtime_hotline.py and tests/test_runtime_backend.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.config import load_config
from engine.runtime.hotline import Hotline
from engine.store import agents, queues, skills
from engine.store.db import make_engine, session_factory
from engine.store.migrate import upgrade
from tests.switch_peer import Reply, Switch

FLOW = """\
flow: main
nodes:
  hello:
    say: "Welcome to the help line."
  bye:
    hangup: NORMAL_CLEARING
    outcome: self_served
"""


class FakeTts:
    def render(self, text: str, language: str, voice: str | None = None) -> str:
        return f"/tts/{text}.wav"


def seed(db_url: str, seeder: Callable[[Session], Any]) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine).begin() as s:
        seeder(s)
    engine.dispose()


def engines(tmp_path: Path, db_url: str) -> Iterator[Callable[..., tuple[Hotline, Switch]]]:
    """The body of a test module's ``start`` fixture: ``start(answer=None)`` runs an engine on a new
    :class:`Switch` (``answer``: its scripted replies), seeded with queue sales and agent 1001; all stopped after."""
    running: list[tuple[Hotline, Switch]] = []

    def _start(answer: Callable[[str], Reply | None] | None = None) -> tuple[Hotline, Switch]:
        def seeder(s: Session) -> None:
            skills.create_skill(s, "sales")
            queues.create_queue(s, "sales", required_skills={"sales": 1}, wrap_up_seconds=0)
            agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"sales": 7})

        seed(db_url, seeder)
        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "main.yaml").write_text(FLOW)
        switch = Switch()
        if answer:
            switch.on("", answer)
        path = tmp_path / "hotline.yaml"
        path.write_text(
            f"data_dir: {tmp_path / 'var'}\nflows_dir: {flows}\ndatabase_url: '{db_url}'\n"
            f"http: {{port: 0}}\nsocket: {{port: 0}}\n"
            f"freeswitch: {{port: {switch.port}, password: pw, command_timeout: 2}}\n"
        )
        engine = Hotline(load_config(path))
        engine.tts = FakeTts()  # type: ignore[assignment]
        engine.start(wait_for_freeswitch=5)
        running.append((engine, switch))
        return engine, switch

    yield _start
    for engine, switch in running:
        engine.stop()
        switch.close()
