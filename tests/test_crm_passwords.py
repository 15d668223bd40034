"""Password hashing and session tokens."""

from __future__ import annotations

import pytest

from engine.crm.passwords import check_password, hash_password, new_session_token, token_digest


def test_a_hash_checks_only_its_own_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert check_password("correct horse", stored)
    assert not check_password("correct hors", stored)
    assert hash_password("correct horse") != stored  # salted


def test_short_passwords_and_malformed_hashes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
    assert not check_password("whatever1", "md5$abc")
    assert not check_password("whatever1", "scrypt$x$8$1$00$00")


def test_session_tokens_are_random_and_stored_as_digests() -> None:
    a, b = new_session_token(), new_session_token()
    assert a != b and len(a) >= 40
    assert token_digest(a) != a and len(token_digest(a)) == 64
