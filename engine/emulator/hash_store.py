"""mod_hash's key-value store (``hash`` and ``hash_dump db``), and ``api_hangup_hook``, as FreeSWITCH runs them.

``hash insert|insert_ifempty|select|delete|delete_ifmatch/<realm>/<key>[/<value>]`` keeps ``<realm>_<key>``
in the switch's memory (it outlives every ESL client, not the switch); ``hash_dump db [<realm>]`` lists
``D/<realm>_<key>/<value>`` lines (mod_hash.c). At hang-up, a channel's ``api_hangup_hook`` (``<api> <arg>``
or ``<api>::<arg>``) runs with the channel's variables expanded, after ``hangup_cause`` and the ``*_epoch``
times are set (switch_core_state_machine.c's ``api_hook``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

USAGE = "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"
DUMP_USAGE = "Usage: all|limit|db [<realm>]\n"


class HashStore:
    """The ``db`` hash of mod_hash: ``<realm>_<key>`` -> value."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def api(self, arg: str) -> str:
        parts = arg.split("/", 3)  # switch_separate_string(..., '/', argv, 4): the value keeps its slashes
        if len(parts) < 3 or not parts[0]:
            return USAGE
        verb, key = parts[0].lower(), f"{parts[1]}_{parts[2]}"
        value = parts[3] if len(parts) == 4 else None
        if verb in ("insert", "insert_ifempty", "delete_ifmatch") and value is None:
            return USAGE
        if verb == "insert":
            self.items[key] = str(value)
            return "+OK\n"
        if verb == "insert_ifempty":
            if key in self.items:
                return "-ERR key already exists\n"
            self.items[key] = str(value)
            return "+OK\n"
        if verb == "delete":
            return "+OK\n" if self.items.pop(key, None) is not None else "-ERR Not found\n"
        if verb == "delete_ifmatch":
            if key not in self.items:
                return "-ERR Not found\n"
            if self.items[key] != value:
                return "-ERR Doesn't match\n"
            del self.items[key]
            return "+OK\n"
        if verb == "select":
            return self.items.get(key, "")
        return USAGE

    def dump(self, arg: str) -> str:
        words = arg.split()
        if not words or words[0] not in ("all", "limit", "db"):
            return DUMP_USAGE
        if words[0] == "limit":
            return ""
        realm = f"{words[1]}_" if len(words) == 2 else None
        return "".join(f"D/{k}/{v}\n" for k, v in self.items.items() if realm is None or realm in k)


def hangup_hook(
    run_api: Callable[[str, str], str], expand: Callable[[str, dict[str, str]], str]
) -> Callable[[Any], None]:
    """The function a channel calls at hang-up: runs its ``api_hangup_hook``, if any."""

    def hook(ch: Any) -> None:
        command = ch.variables.get("api_hangup_hook", "")
        if not command:
            return
        name, sep, arg = command.partition("::")
        if not sep:
            name, _, arg = command.partition(" ")
        run_api(name, expand(arg, {**ch.variables, "uuid": ch.uuid}))

    return hook
