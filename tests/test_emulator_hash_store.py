"""engine.emulator.hash_store: mod_hash's ``hash``/``hash_dump`` and ``api_hangup_hook``, over a real ESL socket.

Expected replies are mod_hash.c's strings (read in FreeSWITCH's source: hash_api_function and
hash_dump_function); the hook's expansion was checked on FreeSWITCH 1.11.1 with the shipped dialplan
(tests/test_realfs_adopt.py records a call from it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.emulator import Caller, Emulator
from tests.test_emulator_fidelity import Client

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(time_scale=0.01, dialplan_xml=REPO / "dialplans" / "default.xml",
                        variables={"hotline_socket": "127.0.0.1:9"})  # fmt: skip
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Client]:
    client = Client.connect(emu.port)
    client.login()
    yield client
    client.close()


def call(client: Client, cmd: str) -> str:
    return client.command(f"api {cmd}\n\n").body


def test_insert_select_delete_and_dump_as_mod_hash_answers(api: Client) -> None:
    assert call(api, "hash insert/r1/k1/a/b,c") == "+OK\n"  # the value keeps its slashes
    assert call(api, "hash insert_ifempty/r1/k1/x") == "-ERR key already exists\n"
    assert call(api, "hash select/r1/k1") == "a/b,c"
    assert call(api, "hash insert/r2/k1/other") == "+OK\n"
    assert call(api, "hash_dump db r1") == "D/r1_k1/a/b,c\n"
    assert sorted(call(api, "hash_dump db").splitlines()) == ["D/r1_k1/a/b,c", "D/r2_k1/other"]
    assert call(api, "hash delete_ifmatch/r1/k1/nope") == "-ERR Doesn't match\n"
    assert call(api, "hash delete/r1/k1") == "+OK\n"
    assert call(api, "hash delete/r1/k1") == "-ERR Not found\n"
    assert call(api, "hash select/r1/k1") == "-ERR no reply\n"  # an api with no output, as mod_event_socket says
    assert call(api, "hash_dump db r1") == "-ERR no reply\n"
    assert call(api, "hash insert/r1") == (
        "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"
    )
    assert call(api, "hash_dump nothing") == "Usage: all|limit|db [<realm>]\n"


def test_a_caller_of_the_hotline_leaves_its_variables_in_the_hash_when_it_hangs_up(emu: Emulator, api: Client) -> None:
    """No engine listens (the socket is refused): the caller reaches the fallback; hotline variables set on
    the channel (as an engine would have) are in the entry, with the end time and the hangup cause."""
    uuid = emu.place_call(Caller("13900139000"), "4000")
    emu.wait_until(lambda: emu.channels[uuid].variables.get("hotline_fallback") == "true")
    hook = emu.channels[uuid].variables["api_hangup_hook"]
    assert hook.startswith(f"hash insert/hotline_ended/{uuid}/v1,${{hotline_queue}},${{hotline_priority}},")
    assert call(api, f"uuid_setvar_multi {uuid} hotline_queue=support;hotline_agent=1001") == "+OK\n"
    assert call(api, f"uuid_kill {uuid} USER_BUSY") == "+OK\n"
    emu.wait_until(lambda: uuid not in emu.channels)
    value = call(api, f"hash select/hotline_ended/{uuid}")
    fields = value.split(",")
    assert (fields[0], fields[1], fields[8], fields[13]) == ("v1", "support", "1001", "USER_BUSY")
    assert fields[12].isdigit() and len(fields[12]) == 16  # end_uepoch: microseconds since 1970
    assert fields[2] == "" and len(fields) == 14  # what was never set expands to nothing, as in FreeSWITCH
