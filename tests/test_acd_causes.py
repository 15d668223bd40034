"""The one map of FreeSWITCH hang-up causes, and the three diallers that read it."""

from __future__ import annotations

import pytest

from engine.acd.causes import DialOutcome, manual_dial_outcome, number_leg_decides, offer_failure, outcome_of
from engine.campaigns.call import ORIGINATE_FAILURES
from engine.dialler.outcomes import CallOutcome
from engine.runtime.acd_shell import failure_reason
from engine.runtime.manual_dial import DIAL_OUTCOMES
from engine.transport import CommandFailed


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("-ERR NO_ANSWER", DialOutcome.NO_ANSWER),
        ("-ERR USER_BUSY\n", DialOutcome.BUSY),
        ("-ERR CALL_REJECTED", DialOutcome.REJECTED),
        ("-ERR ORIGINATOR_CANCEL", DialOutcome.CANCELLED),
        ("-ERR SUBSCRIBER_ABSENT", DialOutcome.FAILED),
        ("-ERR", DialOutcome.FAILED),
        ("", DialOutcome.FAILED),
        ("SUCCESS", DialOutcome.ANSWERED),
    ],
)
def test_replies_and_causes_have_one_outcome(reply: str, outcome: DialOutcome) -> None:
    assert outcome_of(reply) is outcome


def test_call_rejected_means_the_same_to_every_dialler() -> None:
    """The three maps disagreed on CALL_REJECTED (ACD: rejected, manual: rejected, campaigns: failed)."""
    assert failure_reason(CommandFailed("-ERR CALL_REJECTED")) == "rejected"
    assert DIAL_OUTCOMES["CALL_REJECTED"] == "rejected"
    assert ORIGINATE_FAILURES["CALL_REJECTED"] is CallOutcome.BUSY  # campaigns have no "rejected": retried as busy


@pytest.mark.parametrize("cause", ["NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"])
def test_a_ring_out_is_no_answer_everywhere(cause: str) -> None:
    assert offer_failure(f"-ERR {cause}") == "no_answer"
    assert DIAL_OUTCOMES[cause] == "no_answer"
    assert ORIGINATE_FAILURES[cause] is CallOutcome.NO_ANSWER


def test_unknown_causes_fail_everywhere() -> None:
    assert failure_reason(CommandFailed("-ERR NORMAL_TEMPORARY_FAILURE")) == "failed"
    assert "NORMAL_TEMPORARY_FAILURE" not in DIAL_OUTCOMES
    assert "NORMAL_TEMPORARY_FAILURE" not in ORIGINATE_FAILURES


@pytest.mark.parametrize(
    ("disposition", "number_answered", "outcome"),
    [
        ("SUCCESS", True, DialOutcome.ANSWERED),
        ("SUCCESS", False, DialOutcome.ANSWERED),  # the bridge formed: answered, whatever the number leg said
        ("ORIGINATOR_CANCEL", True, DialOutcome.ANSWERED),  # the agent hung up just as the number answered
        ("ORIGINATOR_CANCEL", False, DialOutcome.CANCELLED),  # ... or while it rang
        ("NO_ANSWER", False, DialOutcome.NO_ANSWER),
        ("USER_BUSY", False, DialOutcome.BUSY),
        ("CALL_REJECTED", False, DialOutcome.REJECTED),
        ("", False, DialOutcome.FAILED),  # no hangup event seen
    ],
)
def test_a_manual_dial_outcome_comes_from_the_map_and_the_number_leg(
    disposition: str, number_answered: bool, outcome: DialOutcome
) -> None:
    assert manual_dial_outcome(disposition, number_answered) is outcome
    assert number_leg_decides(disposition) == (disposition in ("SUCCESS", "ORIGINATOR_CANCEL"))
