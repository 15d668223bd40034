"""The emulator as a process of its own (``hotline emulator``): a switch that outlives the engine.

Tests and operators start it, point an engine at it, and can then kill the engine, the database or the
switch independently. Calls are placed through its event socket as on a real FreeSWITCH
(``originate loopback/<number> &park()``: the loopback's B leg runs the dialplan, i.e. the socket to
hotline); agents' phones are registered extensions that answer and stay on the line until hung up.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.event

from engine.emulator import Emulator, Phone

EXTENSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.")


@dataclass(frozen=True)
class EmulatorOptions:
    """What ``hotline emulator`` runs: ESL on ``host:esl_port``; ``number`` goes to hotline's socket."""

    esl_port: int
    socket: str
    host: str = "127.0.0.1"
    password: str = "ClueCon"
    number: str = "4000"
    agents: tuple[str, ...] = field(default_factory=tuple)
    answer_delay: float = 0.5

    def __post_init__(self) -> None:
        host, sep, port = self.socket.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--socket: {self.socket!r} is not HOST:PORT")
        if not 0 <= self.esl_port < 65536:
            raise ValueError(f"--esl-port: {self.esl_port} is not a port number")
        for name, value in [("--number", self.number), *(("--agents", a) for a in self.agents)]:
            if not value or not set(value) <= EXTENSION_CHARS:
                raise ValueError(f"{name}: {value!r} is not an extension (letters, digits, _ - .)")
        if self.answer_delay < 0:
            raise ValueError(f"--answer-delay: {self.answer_delay} must not be negative")


def build(options: EmulatorOptions) -> Emulator:
    """An emulator whose dialplan hands ``number`` to hotline and whose agents' phones answer."""
    emulator = Emulator(
        password=options.password,
        host=options.host,
        port=options.esl_port,
        dialplan={options.number: f"socket {options.socket} async full"},
        keep_log=False,  # runs for hours: no event log in memory
    )
    for ext in options.agents:
        emulator.phones[ext] = Phone(ext, answer_delay=options.answer_delay)
    return emulator


def serve(options: EmulatorOptions, announce: Callable[[str], None] = print) -> int:
    """Run until SIGTERM or SIGINT; then hang up every channel (``SYSTEM_SHUTDOWN``) and exit 0."""
    emulator = build(options)
    port = emulator.start()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    agents = ",".join(options.agents) or "none"
    announce(f"emulator: ESL on {options.host}:{port}; {options.number} -> socket {options.socket}; agents {agents}")
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0
