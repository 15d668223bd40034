"""The configuration schema (pydantic) and its loader.

Every key has a default that runs hotline on embedded defaults (SQLite, FreeSWITCH on loopback),
unknown keys are errors (a typo must not be silently ignored), and an error names the file, the
line and the dotted key, e.g. ``hotline.yaml:7: freeswitch.port: Input should be a valid integer``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from engine.config import yamlsafe
from engine.esl import dialstring
from engine.esl.framing import Limits

Port = Annotated[int, Field(ge=0, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FreeSwitch(_Section):
    """The inbound control connection to FreeSWITCH's event socket."""

    host: str = "127.0.0.1"
    port: Port = 8021
    password: str = "hotline-esl-change-me"
    command_timeout: float = Field(5.0, gt=0)
    bridge_confirm_seconds: float = Field(5.0, gt=0)
    reconnect_max_seconds: float = Field(5.0, gt=0)
    esl_max_header_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    esl_max_headers: int = Field(1024, ge=16, le=100_000)
    esl_max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=1 << 30)
    outbound_peers: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    outbound_handshake_seconds: float = Field(5.0, gt=0, le=60)
    # a bridged caller's outbound socket is released while they talk: FreeSWITCH's listener thread per socket
    # costs ~1 ms of its CPU per call-second; commands and events go through the dialler's connection instead
    release_socket_in_talk: bool = True
    relay_connections: int = Field(1, ge=1, le=16)

    @field_validator("outbound_peers")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network, e.g. 10.0.0.0/24") from None
        return value

    def esl_limits(self) -> Limits:
        """The codec's limits on what one frame from FreeSWITCH may hold."""
        return Limits(self.esl_max_header_bytes, self.esl_max_headers, self.esl_max_body_bytes)


class AdmissionSettings(_Section):
    """When the engine is behind, new inbound calls are turned away to the dialplan's fallback
    (engine/runtime/admission.py); over any one of these limits is behind."""

    max_loop_lag_seconds: float = Field(0.5, gt=0)
    max_pending_commands: int = Field(50, ge=1)
    max_calls_in_ivr: int = Field(200, ge=1)
    max_reply_wait_seconds: float = Field(2.0, gt=0)


class Listen(_Section):
    host: str = "127.0.0.1"
    port: Port


class Token(_Section):
    """An API credential: an admin, a supervisor, or one agent."""

    role: Literal["admin", "supervisor", "agent"]
    agent: str | None = None


def dial_template(value: str) -> str:
    """An operator's dial template: ``{number}`` once filled with a number gives an endpoint hotline rings."""
    if "{number}" not in value:
        raise ValueError("must contain {number}, e.g. sofia/gateway/trunk/{number}")
    dialstring.from_template(value, "0", "dial template")
    return value


DialTemplate = Annotated[str, AfterValidator(dial_template)]
CallerId = Annotated[str, AfterValidator(lambda value: dialstring.extension(value, "caller ID"))]


class Calls(_Section):
    """How inbound calls are handled."""

    numbers: dict[str, str] = Field(default_factory=lambda: {"4000": "main"})
    default_flow: str = "main"
    music_on_hold: str = "local_stream://moh"
    region: str = "CN"
    timezone: str = "Asia/Shanghai"
    history_in_pop: int = Field(5, ge=0, le=50)
    post_call_flow: str | None = None
    fax_dial: DialTemplate = "loopback/{number}"
    callback_dial: DialTemplate = "sofia/gateway/trunk/{number}"
    callback_caller_id: CallerId = "4000"

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        """Numbers without a country code are read in this region (CRM look-ups, manual dials)."""
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows: an ISO 3166 code such as CN or GB")
        return value


class AgentCalls(_Section):
    """Calls agents place themselves: manual dials, consultations, conferences (docs/acd.md)."""

    caller_id: CallerId = "hotline"
    dial_string: DialTemplate = "sofia/gateway/trunk/{number}"
    agent_ring_seconds: int = Field(30, gt=0)
    ring_seconds: int = Field(45, gt=0)
    wrap_up_seconds: float = Field(10.0, ge=0)


class Speech(_Section):
    """Text-to-speech and speech recognition for IVR flows."""

    tts: Literal["espeak_file"] = "espeak_file"
    asr: Literal["detect_speech", "none"] = "none"
    asr_engine: str = "pocketsphinx"


class Crm(_Section):
    """Tickets and database-user logins."""

    follow_up_hours: float = Field(24.0, gt=0)
    login_max_failures: int = Field(5, ge=1)
    login_failure_window_seconds: float = Field(300.0, gt=0)
    login_lockout_seconds: float = Field(300.0, gt=0)


class MetricsSettings(_Section):
    """Live metrics computed by hotline."""

    occupancy_window_seconds: float = Field(900.0, gt=0)


RetentionDays = Annotated[int | None, Field(ge=0)]


class Retention(_Section):
    """How long recorded audio is kept (docs/configuration.md). ``None`` or ``0`` keeps it forever."""

    call_recordings_days: RetentionDays = None
    voicemail_days: RetentionDays = None
    amd_samples_days: RetentionDays = None
    amd_unlabelled_days: RetentionDays = None
    run_at: str = "03:30"

    @field_validator("run_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
            raise ValueError(f"{value!r} is not a time of day HH:MM, e.g. 03:30")
        return value


class Continuity(_Section):
    """Callers keep their place across an engine restart; a clean stop hands them on (docs/operations.md)."""

    hold_chunk_seconds: float = Field(20.0, ge=0)
    reclaim_scan_seconds: float = Field(5.0, gt=0)
    reclaim_settle_seconds: float = Field(5.0, gt=0)
    drain_park_seconds: int = Field(10, ge=0, le=9999)
    drain_limit_seconds: float = Field(300.0, ge=0)
    ended_sweep_seconds: float = Field(60.0, gt=0)
    ended_grace_seconds: float = Field(30.0, ge=0)
    write_linger_seconds: float = Field(0.05, ge=0, le=1.0)


class Config(_Section):
    """The whole configuration file."""

    data_dir: Path = Path("var")
    database_url: str | None = None
    flows_dir: Path = Path("ivr_flows")
    sounds_dir: Path = Path("sounds")
    fax_dir: Path = Path("fax")
    freeswitch: FreeSwitch = FreeSwitch()
    socket: Listen = Listen(port=8084)
    http: Listen = Listen(port=8085)
    calls: Calls = Calls()
    speech: Speech = Speech()
    crm: Crm = Crm()
    metrics: MetricsSettings = MetricsSettings()
    agent_calls: AgentCalls = AgentCalls()
    retention: Retention = Retention()
    continuity: Continuity = Continuity()
    admission: AdmissionSettings = AdmissionSettings()
    tokens: dict[str, Token] = Field(default_factory=dict)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    _source: tuple[Path | None, yaml.Node | None] = PrivateAttr(default=(None, None))

    @field_validator("data_dir", "flows_dir", "sounds_dir", "fax_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Relative paths are taken from the working directory once, at load: hotline hands these paths
        to FreeSWITCH, whose own working directory is another (a relative prompt path fails there)."""
        return value.expanduser().absolute()

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_a_directory(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} exists and is not a directory")
        return value

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str | None) -> str | None:
        """The URL parses, names a dialect SQLAlchemy has, and its driver is installed (never echoes it)."""
        if value is None:
            return value
        try:
            url = make_url(value)
            dialect = url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError(
                "not a database URL SQLAlchemy can use, e.g. postgresql+psycopg2://user:pw@host/db"
            ) from None
        try:
            dialect.import_dbapi()
        except ImportError:
            raise ValueError(
                f"the driver of {url.drivername} is not installed (for PostgreSQL: postgresql+psycopg2://...)"
            ) from None
        return value

    @field_validator("calls")
    @classmethod
    def _known_timezone(cls, calls: Calls) -> Calls:
        try:
            ZoneInfo(calls.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {calls.timezone!r} is not an IANA zone name such as Asia/Shanghai") from None
        return calls

    @field_validator("tokens")
    @classmethod
    def _agent_tokens_name_an_agent(cls, tokens: dict[str, Token]) -> dict[str, Token]:
        for secret, token in tokens.items():
            if token.role == "agent" and not token.agent:
                raise ValueError(f"token {secret[:4]}...: role agent needs 'agent: <agent id>'")
            if len(secret) < 16:
                raise ValueError(f"token {secret[:4]}...: tokens must be at least 16 characters")
        return tokens

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hotline.sqlite3').resolve()}"


class ConfigError(ValueError):
    """The configuration file is unreadable or invalid; the message names file, line and key."""


def _line_of(root: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """1-based line of the YAML node at ``path`` (or of its deepest existing parent)."""
    node, line = root, None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_config(path: Path | None = None, overrides: dict | None = None) -> Config:
    """Read and validate ``path`` (defaults only when ``None``); ``overrides`` win over the file.

    The file goes through the bounded YAML reader (size, UTF-8, depth, aliases: engine/config/yamlsafe.py).
    """
    root, data = None, {}
    if path is not None:
        try:
            root = yamlsafe.compose(yamlsafe.read_text(path), str(path))
            data = yamlsafe.construct(root) or {}
        except yamlsafe.YamlRefused as exc:
            raise ConfigError(f"{exc.file}:{exc.line}: {exc.message}" if exc.line else str(exc)) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:1: the file must be a mapping of settings")
    data = {**data, **(overrides or {})}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(root, loc)
            where = f"{path}:{line}" if path and line else str(path or "<defaults>")
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {'.'.join(map(str, loc)) or '(top)'}: {message}")
        raise ConfigError("\n".join(lines)) from None
    config._source = (path, root)
    return config


def check_flows(config: Config, flows: Iterable[str]) -> None:
    """At start and on reload: every flow the config names (``calls.numbers``, ``calls.default_flow``,
    ``calls.post_call_flow``) is among ``flows``; ConfigError naming file, line and key otherwise."""
    known = set(flows)
    named: list[tuple[tuple[str, ...], str]] = [(("calls", "numbers", n), f) for n, f in config.calls.numbers.items()]
    named.append((("calls", "default_flow"), config.calls.default_flow))
    if config.calls.post_call_flow:
        named.append((("calls", "post_call_flow"), config.calls.post_call_flow))
    path, root = config._source
    lines = []
    for key, flow in named:
        if flow not in known:
            line = _line_of(root, key)
            where = f"{path}:{line}" if path and line else str(path or "<defaults>")
            have = ", ".join(sorted(known)) or "none"
            lines.append(f"{where}: {'.'.join(key)}: unknown flow {flow!r} (flows in {config.flows_dir}: {have})")
    if lines:
        raise ConfigError("\n".join(lines))
