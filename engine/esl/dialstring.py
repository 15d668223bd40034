"""The grammar of what hotline puts into a FreeSWITCH command: numbers, endpoints, UUIDs, variables.

Every value that comes from a person (an agent's transfer target, a supervisor's phone, a number keyed
by a caller or typed into the CRM) or from the network (a caller's SIP From) passes one of these
checks before it reaches an ESL command, so it can never add a channel variable (``{...}``,
``[...]``, ``<...>``), another endpoint (``,``, ``|``, ``:_:``), an application (``&app()``), an
expansion (``${...}``), another argument (a space) or another command (a line break). A value
that fails raises :class:`~engine.esl.codec.UnsafeValue` naming the field; the HTTP edge answers 400.

The grammar, deliberately narrow (see docs/security.md):

* number: ``+`` then 1-32 of ``0-9 * #`` (E.164, extensions, feature codes);
* extension: 1-64 of ``A-Z a-z 0-9 _ . + * # -`` (an agent id, a queue name, a dialplan extension);
* endpoint: ``user/EXT[@HOST]``, ``sofia/gateway/GW/EXT``, ``sofia/PROFILE/[sip:]EXT[@HOST[:PORT]]``
  or ``loopback/EXT[/CONTEXT]``; operator-configured templates (``sofia/gateway/trunk/{number}``)
  are endpoints once ``{number}`` is filled with a checked number;
* channel variable: name ``[A-Za-z0-9_]+``, value with none of ``, { } [ ] < > ' " \\ ^ | $ ( )``, no
  whitespace and no control character. Caller IDs from the network are *sanitised* (every other
  character becomes ``_``) rather than refused, so a strange From header never drops a call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.esl.codec import UnsafeValue, argument

_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_SEPARATORS = re.compile(r"[ ().-]")
_EXTENSION = re.compile(r"[A-Za-z0-9_.+*#-]{1,64}")
_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_PART = r"[A-Za-z0-9_.+*#-]{1,64}"
_HOST = r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?"
_ENDPOINT = re.compile(
    rf"user/{_PART}(?:@{_HOST})?"
    rf"|sofia/gateway/{_PART}/{_PART}"
    rf"|sofia/{_PART}/(?:sip:)?{_PART}(?:@{_HOST})?"
    rf"|loopback/{_PART}(?:/{_PART})?"
)
_VAR_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_VAR_VALUE = re.compile(r"[^,{}\[\]<>'\"\\^|$()\s\x00-\x1f\x7f]{0,256}")
_CALLER_ID_CHAR = re.compile(r"[^A-Za-z0-9+*#._@-]")
_APP = re.compile(r"[a-z_]{1,32}")
_TARGET_FORMS = {"queue": "queue:NAME", "flow": "flow:NAME", "agent": "agent:ID", "number": "number:N"}


def _match(pattern: re.Pattern[str], value: object, field: str, what: str) -> str:
    if not isinstance(value, str):
        raise UnsafeValue(f"{field}: must be text, not {type(value).__name__}")
    if not pattern.fullmatch(value):
        raise UnsafeValue(f"{field}: {value[:64]!r} is not {what}")
    return value


def number(value: object, field: str = "number") -> str:
    """A dialable number: optional ``+``, then digits, ``*`` or ``#`` (at most 32)."""
    return _match(_NUMBER, value, field, "a phone number (digits, optional leading +)")


def typed_number(value: object, field: str = "number") -> str:
    """A number as a person types it: spaces, dots, dashes and brackets are dropped, then :func:`number`."""
    return number(_SEPARATORS.sub("", value) if isinstance(value, str) else value, field)


def extension(value: object, field: str = "extension") -> str:
    """An agent id, queue or flow name, or dialplan extension."""
    return _match(_EXTENSION, value, field, "a name of letters, digits and _ . + * # -")


def uuid(value: object, field: str = "uuid") -> str:
    """A channel UUID (FreeSWITCH's, or one hotline made)."""
    return _match(_UUID, value, field, "a channel UUID")


def endpoint(value: object, field: str = "contact") -> str:
    """A phone to ring: ``user/1001``, ``sofia/gateway/trunk/123``, ``sofia/internal/1001@host``..."""
    return _match(_ENDPOINT, value, field, "an endpoint such as user/1001 or sofia/gateway/NAME/NUMBER")


def from_template(template: str, value: object, field: str = "number") -> str:
    """Fill an operator's dial template (``sofia/gateway/trunk/{number}``) with a checked number."""
    filled = template.replace("{number}", number(value, field))
    return endpoint(filled, f"{field} (dialled as {template})")


def caller_id(value: object) -> str:
    """A caller ID from the network made safe for a channel variable (never refused)."""
    text = _CALLER_ID_CHAR.sub("_", value if isinstance(value, str) else "")[:64]
    return text or "unknown"


def target(value: object, field: str = "target", kinds: tuple[str, ...] = tuple(_TARGET_FORMS)) -> tuple[str, str]:
    """A transfer or consult target ``kind:name`` of one of ``kinds``; ``number:`` takes a number, the rest a name."""
    if not isinstance(value, str):
        raise UnsafeValue(f"{field}: must be text, not {type(value).__name__}")
    kind, _, name = value.partition(":")
    if kind not in kinds:
        forms = [_TARGET_FORMS[k] for k in kinds]
        raise UnsafeValue(f"{field} {value[:64]!r}: use {', '.join(forms[:-1])} or {forms[-1]}")
    return kind, (number if kind == "number" else extension)(name, field)


def variables(values: Mapping[str, object]) -> str:
    """``{name=value,...}`` for an originate; every name and value is checked."""
    parts = []
    for name, value in values.items():
        _match(_VAR_NAME, name, "channel variable", "a variable name")
        text = str(value)
        _match(_VAR_VALUE, text, f"channel variable {name}", "a safe variable value")
        parts.append(f"{name}={text}")
    return "{" + ",".join(parts) + "}"


def application(app: str, arg: str = "") -> str:
    """``&app(arg)``: the application an originated leg runs once it answers."""
    _match(_APP, app, "application", "an application name")
    if "(" in arg or ")" in arg:
        raise UnsafeValue(f"{app}: argument {arg[:64]!r} may not contain parentheses")
    return f"&{app}({argument(arg, f'{app} argument') if arg else ''})"


#: The channel variable every leg hotline originates (or bridges to) carries: the dialler's connection
#: asks FreeSWITCH only for events of legs with ``hotline_leg=true`` (an ESL ``filter`` on
#: ``variable_hotline_leg``, engine/campaigns/legs.py). ACD offers' legs carry it too: callbacks and
#: conferences watch an agent's leg on the dialler's connection.
LEG_VARIABLE = "hotline_leg"
OWN_LEG = "true"


def _marked(values: Mapping[str, object]) -> dict[str, object]:
    marked = dict(values)
    marked.setdefault(LEG_VARIABLE, OWN_LEG)
    return marked


def originate(values: Mapping[str, object], dial: str, app: str, arg: str = "") -> tuple[str, str, str]:
    """The parts of ``originate {vars}<endpoint> &app(arg)`` for :meth:`Connection.bgapi`; the leg
    carries :data:`LEG_VARIABLE` (``true`` unless ``values`` says otherwise).

    ``dial`` must already be an endpoint (from :func:`endpoint` or :func:`from_template`); it is
    checked again here so no caller can skip that step.
    """
    return "originate", variables(_marked(values)) + endpoint(dial, "dial string"), application(app, arg)


def bridge_to(values: Mapping[str, object], dial: str) -> tuple[str, str]:
    """The ``bridge`` application and argument that ring ``dial`` with ``values`` once a leg answers
    (the new leg carries :data:`LEG_VARIABLE` too)."""
    return "bridge", variables(_marked(values)) + endpoint(dial, "dial string")
