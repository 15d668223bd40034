"""Phone number normalisation to E.164 (pure; backed by Google's libphonenumber port)."""

from __future__ import annotations

import phonenumbers

from engine.store.errors import InvalidInput


def to_e164(number: str, region: str, field: str = "number") -> str:
    """Normalise *number* ('13900139000', '+86 139 0013 9000', '008613900139000') to E.164.

    *region* is the ISO 3166 country code ('CN') used for numbers without a country prefix.
    Raises InvalidInput naming *field* when the text is not a possible phone number.
    """
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field, number, f"is not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput(field, number, f"is not a possible phone number for region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
