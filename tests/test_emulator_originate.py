"""Dial-string parsing."""

from __future__ import annotations

from engine.emulator.originate import parse_dial, split_vars


def test_split_vars_reads_global_and_leg_variables() -> None:
    assert split_vars("{a=1,b='x y'}[c=3]user/1001") == ({"a": "1", "b": "x y", "c": "3"}, "user/1001")
    assert split_vars("loopback/9999") == ({}, "loopback/9999")


def test_parse_dial_splits_sequential_targets_and_merges_variables() -> None:
    targets = parse_dial("{t=1}user/1|[u=2]user/2")
    assert [(t.variables, t.endpoint) for t in targets] == [({"t": "1"}, "user/1"), ({"t": "1", "u": "2"}, "user/2")]
