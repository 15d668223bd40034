"""FreeSWITCH's XML dialplan, as far as hotline's own dialplans use it: the emulator runs them as they are.

``XmlDialplan(path, vars_path, overrides)`` reads one context file (dialplans/default.xml) after the
pre-processor's ``$${var}`` expansion from vars.xml (``overrides`` replace values, e.g. the hotline
socket's port in a test). :meth:`XmlDialplan.hunt` does what mod_dialplan_xml does for a destination:
the first extension whose conditions all match (``destination_number`` or a ``${variable}`` field, the
variable read from the channel, else from the global variables), its actions with ``$1``... taken from
the last condition's groups. Anti-actions, ``break``, ``continue`` and inline attributes are not used by
hotline's dialplans and not supported (docs/emulator.md). ``${variable}`` in an action's data is expanded
when the application runs (:func:`expand`), as FreeSWITCH does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

_PRE_SET = re.compile(r'<X-PRE-PROCESS\s+cmd="set"\s+data="([^=]+)=([^"]*)"\s*/>')
_GLOBAL = re.compile(r"\$\$\{([^}]+)\}")
_CHANNEL = re.compile(r"\\([\\$])|\$\{([A-Za-z0-9_]+)\}")
_GROUP = re.compile(r"\$(\d)")


def read_vars(path: Path, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The global variables vars.xml sets (each ``$${x}`` in a value expanded from earlier ones)."""
    values: dict[str, str] = {"conf_dir": str(path.parent), "storage_dir": "/tmp/hotline-emulator"}
    for name, value in _PRE_SET.findall(path.read_text(encoding="utf-8")):
        values[name] = _GLOBAL.sub(lambda m: values.get(m.group(1), ""), value)
    values.update(overrides or {})
    return values


def expand(data: str, variables: Mapping[str, str], globals_: Mapping[str, str]) -> str:
    """``${name}``: the channel's variable, else the global one, else empty; ``\\$`` is a ``$`` that expands
    nothing and ``\\\\`` one backslash, as in switch_channel_expand_variables (the dialplan's ``set`` expands
    twice: ``\\\\\\${x}`` leaves ``${x}`` on the channel, for a hang-up hook to expand)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        return variables.get(m.group(2), globals_.get(m.group(2), ""))

    return _CHANNEL.sub(one, data)


class XmlDialplan:
    """One context of an XML dialplan file, hunted like mod_dialplan_xml."""

    def __init__(self, path: Path, vars_path: Path, overrides: Mapping[str, str] | None = None) -> None:
        self.globals = read_vars(vars_path, overrides)
        lines = [
            _GLOBAL.sub(lambda m: self.globals.get(m.group(1), ""), line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if "<include>" not in line and "</include>" not in line and "<?" not in line
        ]
        root = ET.fromstring("<root>" + "\n".join(lines) + "</root>")
        context = root.find("context")
        if context is None:
            raise ValueError(f"{path}: no <context>")
        self.context = context.get("name", "")
        self.extensions = context.findall("extension")

    def hunt(self, destination: str, variables: Mapping[str, str]) -> list[tuple[str, str]] | None:
        """The actions of the first matching extension, or None (no route)."""
        for extension in self.extensions:
            actions: list[tuple[str, str]] = []
            conditions = extension.findall("condition")
            for condition in conditions:
                field = condition.get("field", "")
                value = destination if field == "destination_number" else expand(field, variables, self.globals)
                match = re.search(condition.get("expression", ""), value)
                if match is None:
                    break
                groups = (match.group(0), *(g or "" for g in match.groups()))
                actions += [
                    (action.get("application", ""), self._groups(action.get("data", ""), groups))
                    for action in condition.findall("action")
                ]
            else:
                if conditions:
                    return actions
        return None

    @staticmethod
    def _groups(data: str, groups: tuple[str, ...]) -> str:
        return _GROUP.sub(lambda m: groups[int(m.group(1))] if int(m.group(1)) < len(groups) else "", data)
