"""The emulator's ESL ``filter``: the rule of mod_event_socket, observed over the socket (the same cases run
against a real FreeSWITCH in tests/test_realfs.py), and the filter command's replies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.emulator import Emulator
from engine.esl import codec
from engine.transport import InboundClient
from tests.esl_filters import CASES, filtered_jobs, new_ids


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.mark.parametrize(("what", "filters", "expected"), CASES, ids=[case[0] for case in CASES])
def test_filters_let_through_what_freeswitch_does(emulator: Emulator, what, filters, expected) -> None:
    ids = new_ids()
    assert filtered_jobs("127.0.0.1", emulator.port, emulator.password, filters(ids), ids) == expected, what


def test_filter_and_nixevent_replies(emulator: Emulator) -> None:
    conn = InboundClient("127.0.0.1", emulator.port, emulator.password, ["BACKGROUND_JOB"]).connect_once()
    try:
        assert conn.send_frame(codec.event_filter("Job-UUID", "a")).reply_text == "+OK filter added. [Job-UUID]=[a]"
        assert conn.send_frame(codec.command("filter Job-UUID")).reply_text == "-ERR invalid syntax"
        assert conn.send_frame(codec.command("nixevent CHANNEL_STATE TALK")).reply_text == "+OK events nixed"
        reply = conn.send_frame(codec.command("filter delete job-uuid a")).reply_text
        assert reply == "+OK filter deleted. [job-uuid][a]"  # sic: no "=" (FreeSWITCH 1.11.1)
    finally:
        conn.close()
