"""Phone number normalisation to E.164."""

from __future__ import annotations

import pytest

from engine.store.errors import InvalidInput
from engine.store.phones import to_e164


@pytest.mark.parametrize(
    "raw", ["13900139000", "+8613900139000", "008613900139000", "+86 139 0013 9000", "139-0013-9000"]
)
def test_local_and_international_forms_give_the_same_e164(raw: str) -> None:
    assert to_e164(raw, "CN") == "+8613900139000"


def test_region_applies_only_to_numbers_without_country_code() -> None:
    assert to_e164("2025550123", "US") == "+12025550123"
    assert to_e164("+12025550123", "CN") == "+12025550123"


@pytest.mark.parametrize("raw", ["anonymous", "", "1001"])
def test_non_numbers_are_rejected_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_e164(raw, "CN", field="caller_number")
    assert caught.value.field == "caller_number"
    assert str(caught.value).startswith("caller_number: ")
