"""OutboundDial's decisions after the answer, with the dialler connection faked (the whole path runs in
tests/test_integration_outbound_campaign.py against the emulator)."""

from __future__ import annotations

from gevent.event import AsyncResult

from engine.campaigns.call import Dial, OutboundDial
from engine.campaigns.legs import Leg
from engine.dialler.campaign import AmdRule
from engine.dialler.outcomes import CallOutcome
from engine.transport import CommandFailed


class _Verdict:
    def variable(self, name: str) -> str:
        return "MACHINE"


class _Client:
    def __init__(self) -> None:
        self.api_calls: list[tuple[str, ...]] = []

    def bgapi(self, *args: str, timeout: float) -> str:
        return "+OK"

    def api(self, *args: str) -> str:
        self.api_calls.append(args)
        return "+OK"


class _Legs:
    """amd gives a MACHINE verdict; the leg is gone when the next app is sent, as FreeSWITCH says it."""

    def __init__(self, error: str = "-ERR invalid session id [{}]") -> None:
        self.client = _Client()
        self.sent: list[str] = []
        self.error = error

    def execute(self, leg: Leg, app: str, arg: str = "") -> AsyncResult:
        self.sent.append(app)
        if app != "amd":
            raise CommandFailed(self.error.format(leg.uuid))
        done = AsyncResult()
        done.set(_Verdict())
        return done


def _dial(rule: AmdRule) -> Dial:
    return Dial(
        leg="leg-1", campaign="spring", contact_id=1, number="02079460001", caller_id="+442079460000",
        gateway="sofia/gateway/carrier/", queue="outbound", ring_timeout=30, amd_rule=rule, abandon_message="a.wav",
        machine_message="m.wav", pop={},
    )  # fmt: skip


def test_a_machine_that_hangs_up_before_avmd_starts_is_a_machine_not_a_failure() -> None:
    legs = _Legs()
    result = OutboundDial(_dial(AmdRule.LEAVE_MESSAGE), Leg("leg-1"), legs, acd=None, wall=lambda: 100.0).run()
    assert legs.sent == ["amd", "avmd_start"]
    assert result.outcome is CallOutcome.MACHINE and result.amd_result == "MACHINE"
    assert result.notes == ["no beep: no message left"]


def test_another_refusal_of_the_next_application_is_a_failed_dial_not_a_hang_up() -> None:
    """Only FreeSWITCH's "invalid session id" says the leg is gone; any other -ERR is not taken for a hang-up."""
    legs = _Legs("-ERR command not allowed")
    result = OutboundDial(_dial(AmdRule.LEAVE_MESSAGE), Leg("leg-1"), legs, acd=None, wall=lambda: 100.0).run()
    assert legs.sent == ["amd", "avmd_start"]
    assert result.outcome is CallOutcome.FAILED and result.hangup_cause == "CommandFailed"
