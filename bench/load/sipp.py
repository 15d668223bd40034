"""SIPp processes of the load kit: the callers (UAC) and the agents' phone (UAS), on 127.0.0.1 only.

Each SIPp run writes its statistics to a CSV file (``-trace_stat``, one row a second); the kit reads
the last row. Every process is bounded: callers stop after ``-m`` calls and a global ``-timeout``;
the phone is stopped by the kit (SIGUSR1, then SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import csv
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
HOST = "127.0.0.1"
CALLERS = ("caller_talk", "caller_abandon")
PHONES = ("phone_answer", "phone_ringout", "phone_reject")


@dataclass(frozen=True)
class Stats:
    """Cumulative counts of one SIPp run (its last statistics row)."""

    created: int = 0  # calls placed (UAC) or received (UAS)
    successful: int = 0  # calls that ran the whole scenario
    failed: int = 0
    current: int = 0


def read_stats(path: Path) -> Stats:
    """The last row of a SIPp ``-trace_stat`` CSV (all zero when SIPp wrote none)."""
    if not path.exists():
        return Stats()
    with path.open(newline="", encoding="latin-1") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    if not rows:
        return Stats()
    last = rows[-1]

    def count(name: str) -> int:
        value = (last.get(name) or "0").strip()
        return int(value) if value.isdigit() else 0

    return Stats(
        created=max(count("TotalCallCreated"), count("IncomingCall(C)") + count("OutgoingCall(C)")),
        successful=count("SuccessfulCall(C)"),
        failed=count("FailedCall(C)"),
        current=count("CurrentCall"),
    )


class Sipp:
    """One SIPp process running one of our scenarios; statistics in ``<folder>/<name>.csv``."""

    def __init__(
        self,
        binary: str,
        scenario: str,
        folder: Path,
        name: str,
        *,
        sip_port: int,
        media_port: int,
        control_port: int,
        remote: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        if scenario not in CALLERS + PHONES:
            raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(CALLERS + PHONES)}")
        self.stats_file = folder / f"{name}.csv"
        self.log = folder / f"{name}.log"
        args = [binary]
        if remote is not None:
            if not remote.startswith(f"{HOST}:"):
                raise ValueError(f"the load kit only sends to {HOST}, not {remote}")
            args.append(remote)
        args += ["-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", HOST, "-p", str(sip_port)]
        args += ["-mi", HOST, "-mp", str(media_port), "-cp", str(control_port), "-nostdin"]
        args += ["-trace_stat", "-stf", str(self.stats_file), "-fd", "1", "-trace_err"]
        args += ["-error_file", str(folder / f"{name}.errors.log"), *extra]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder
            )

    def stats(self) -> Stats:
        return read_stats(self.stats_file)

    def wait(self, timeout: float) -> int | None:
        """Wait for SIPp to exit by itself; its exit code, or None when it is still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 10.0) -> None:
        """Ask SIPp to finish (SIGUSR1: no new calls), then terminate, then kill."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGUSR1)
        if self.wait(grace) is None:
            self.proc.terminate()
            if self.wait(grace) is None:
                self.proc.kill()
                self.proc.wait()


def callers(
    binary: str, folder: Path, name: str, *, scenario: str, switch: str, number: str, rate: float, calls: int,
    sip_port: int, media_port: int, control_port: int, timeout: float, stay_ms: int = 11000,
) -> Sipp:  # fmt: skip
    """Callers dialling ``number`` at ``switch`` (host:port): ``rate`` calls a second, ``calls`` in all;
    ``stay_ms``: how long a caller stays after keying (SIPp's ``-d``, the scenario's bare ``<pause/>``)."""
    # -l calls: SIPp's default cap on simultaneous calls would slow the callers down when the switch holds
    # calls longer than planned; the kit offers the whole step's calls at the rate asked instead
    extra = ("-s", number, "-r", f"{rate:g}", "-m", str(calls), "-l", str(calls), "-d", str(stay_ms))
    extra += ("-timeout", f"{timeout:g}s", "-timeout_error")
    return Sipp(
        binary, scenario, folder, name, sip_port=sip_port, media_port=media_port, control_port=control_port,
        remote=switch, extra=extra,
    )  # fmt: skip


def phone(
    binary: str, folder: Path, name: str, *, scenario: str, sip_port: int, media_port: int, control_port: int
) -> Sipp:
    """The agents' phone: a UAS at 127.0.0.1:``sip_port`` answering (or ringing out, or rejecting) every call."""
    return Sipp(binary, scenario, folder, name, sip_port=sip_port, media_port=media_port, control_port=control_port)
