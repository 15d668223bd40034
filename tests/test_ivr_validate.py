"""Semantic validation: each flow in tests/ivr_broken is rejected at the right line and message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.ivr.loader import check_file, parse_flow
from engine.ivr.validate import validate_flow, validate_transfers

BROKEN = Path(__file__).parent / "ivr_broken"
SKILLS = {"sales", "support", "billing", "vip"}
CASES = sorted(BROKEN.glob("*.yaml"))


def _expected(path: Path) -> tuple[int, int, str]:
    match = re.match(r"# expect: (\d+):(\d+) (.+)", path.read_text().splitlines()[0])
    assert match, f"{path.name} has no '# expect: LINE:COL message' first line"
    return int(match.group(1)), int(match.group(2)), match.group(3)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_flow_is_rejected_at_the_right_place(path: Path) -> None:
    line, column, message = _expected(path)
    flow, errors = check_file(path, sounds_dir=BROKEN, skills=SKILLS, queues=SKILLS)
    if flow is not None:
        errors = validate_transfers(flow, {"main", "after_hours"})
    assert errors, f"{path.name} was accepted"
    found = [e for e in errors if (e.line, e.column) == (line, column) and message in e.message]
    assert found, f"expected {line}:{column} {message!r}, got:\n" + "\n".join(map(str, errors))
    assert str(found[0]).startswith(f"{path}:{line}:{column}: ")


def _flow(text: str):
    flow, errors = parse_flow(text, "t.yaml")
    assert flow is not None, errors
    return flow


QUEUE_FLOW = "nodes:\n  q:\n    queue: plumbing\n"


def test_skill_and_queue_checks_are_skipped_without_sets() -> None:
    assert validate_flow(_flow(QUEUE_FLOW)) == []
    messages = [e.message for e in validate_flow(_flow(QUEUE_FLOW), skills=SKILLS, queues=SKILLS)]
    assert messages == ["unknown queue 'plumbing'", "unknown skill 'plumbing'"]


def test_existing_audio_and_templated_paths_pass(tmp_path: Path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    flow = _flow(
        "nodes:\n  a:\n    play: [hello.wav, '{caller}.wav', 'tone_stream://%(100,0,440)']\n"
        "  b:\n    hangup: NORMAL_CLEARING\n"
    )
    assert validate_flow(flow, sounds_dir=tmp_path) == []


def test_counted_retry_loop_is_accepted() -> None:
    flow = _flow("""
variables: {tries: 0}
nodes:
  count:
    set: {tries: "=tries + 1"}
  check:
    branch:
      - if: tries > 3
        goto: out
    else: count
  out:
    hangup: NORMAL_CLEARING
""")
    assert validate_flow(flow) == []


def test_variables_set_anywhere_are_known() -> None:
    flow = _flow("""
nodes:
  ask:
    collect: Key your PIN
    into: pin
    on_failure: bye
  check:
    branch:
      - if: "pin == '1234' and customer.tier in ['vip', 'gold']"
        goto: bye
    else: bye
  find:
    lookup: customer
  bye:
    hangup: NORMAL_CLEARING
""")
    errors = validate_flow(flow)
    assert [e.message for e in errors] == ["node 'find' is never reached"]
