"""The retention decision: periods per kind, forever when unset, live and CDR-less calls kept, unlabelled
AMD samples kept until labelled or past their own period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.retention.policy import ORPHAN_DAYS, Item, Kind, Policy, due

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def _item(kind: Kind, days_old: float, **kw) -> Item:
    return Item(kind, 1, "/var/x.wav", NOW - timedelta(days=days_old), **kw)


def test_items_are_due_once_older_than_their_kinds_period() -> None:
    policy = Policy(call_recordings_days=30, voicemail_days=10, amd_samples_days=5)
    items = [
        _item(Kind.CALL_RECORDING, 30, call_uuid="a"),
        _item(Kind.CALL_RECORDING, 29.9, call_uuid="b"),
        _item(Kind.VOICEMAIL, 10.5),
        _item(Kind.VOICEMAIL, 9),
        _item(Kind.AMD_SAMPLE, 6),
        _item(Kind.AMD_SAMPLE, 4),
    ]
    assert due(items, NOW, policy) == [items[0], items[2], items[4]]


def test_unset_or_zero_periods_keep_everything() -> None:
    items = [_item(kind, 10_000) for kind in Kind]
    assert due(items, NOW, Policy()) == []
    assert due(items, NOW, Policy(0, 0, 0, 0)) == []
    assert Policy(0, None, 0).keeps_everything() and not Policy(voicemail_days=1).keeps_everything()


def test_a_live_call_or_one_without_a_cdr_keeps_its_recording() -> None:
    policy = Policy(call_recordings_days=1)
    live = _item(Kind.CALL_RECORDING, 400, call_uuid="live")
    no_cdr = _item(Kind.CALL_RECORDING, ORPHAN_DAYS - 0.1, call_uuid="x", call_ended=False)
    orphan = _item(Kind.CALL_RECORDING, ORPHAN_DAYS, call_uuid="y", call_ended=False)
    assert due([live, no_cdr, orphan], NOW, policy, live={"live"}) == [orphan]


def test_unlabelled_amd_samples_wait_for_a_label_or_their_own_period() -> None:
    unlabelled = _item(Kind.AMD_SAMPLE, 100, labelled=False)
    assert due([unlabelled], NOW, Policy(amd_samples_days=30)) == []
    assert due([unlabelled], NOW, Policy(amd_samples_days=30, amd_unlabelled_days=120)) == []
    assert due([unlabelled], NOW, Policy(amd_samples_days=30, amd_unlabelled_days=90)) == [unlabelled]


def test_oldest_kept_is_the_shortest_period_of_the_kind() -> None:
    policy = Policy(call_recordings_days=30, amd_samples_days=30, amd_unlabelled_days=90)
    assert policy.oldest_kept(Kind.CALL_RECORDING, NOW) == NOW - timedelta(days=30)
    assert policy.oldest_kept(Kind.AMD_SAMPLE, NOW) == NOW - timedelta(days=30)
    assert policy.oldest_kept(Kind.VOICEMAIL, NOW) is None
