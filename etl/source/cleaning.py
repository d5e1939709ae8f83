"""Pure normalisers for the values the feeds get wrong in clearly intended ways.

Each returns the cleaned value; none touches a database or a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Phone numbers in the feed come in the national formats of these countries whatever the
# customer's country (see the sample's README): a number is read in the customer's country
# first, then in these, and the first reading that is a valid number wins.
_PHONE_REGIONS = ("GB", "IE", "US")
_COUNTRY_REGIONS = {
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "republic of ireland": "IE",
    "ireland": "IE",
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
}

# UK postcode: outward code (A9, A99, AA9, AA99, A9A, AA9A) and inward code (9AA).
_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
# Irish Eircode: routing key (A99, or D6W) and a four-character unique identifier.
_EIRCODE = re.compile(r"^([A-Z][0-9]{2}|D6W)([0-9A-Z]{4})$")
_SPACES = re.compile(r"\s+")
# What text() changes: whitespace at either end, a run of it, or any whitespace but a plain space
# (line breaks included: every line break is whitespace to `\s` and to str.split alike).
_UNTIDY_TEXT = re.compile(r"\A | \Z|  |[^\S ]")


def text(value: str | None) -> str | None:
    """Trim surrounding whitespace and collapse runs of spaces inside; '' becomes None.

    Line breaks inside an address are kept as one newline: they separate address lines.
    """
    if value is None:
        return None
    if value and not _UNTIDY_TEXT.search(value):
        return value  # already tidy, the common case: one regex scan instead of splitting
    lines = [" ".join(part.split()) for part in value.strip().splitlines()]
    cleaned = "\n".join(line for line in lines if line)
    return cleaned or None


def email(value: str | None) -> str | None:
    """Trim and lower-case an e-mail address and check its syntax (no DNS lookups).

    Raises:
        ValueError: not an e-mail address.
    """
    value = text(value)
    if value is None:
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return result.normalized.lower()


@dataclass(frozen=True)
class Phone:
    """A phone number as stored: E.164 when it could be read, else the source's text."""

    number: str
    is_e164: bool
    extension: str | None = None


def phone(value: str | None, country: str | None) -> Phone | None:
    """Read a free-form phone number (`+44(0)808 157 0808`, `(0114)4960607`, `001-435-...x945`)."""
    value = text(value)
    if value is None:
        return None
    return _phone(value, _COUNTRY_REGIONS.get((country or "").strip().lower()))


@lru_cache(maxsize=65536)
def _phone(value: str, home_region: str | None) -> Phone:
    regions = (home_region, *(r for r in _PHONE_REGIONS if r != home_region))
    for region in regions:
        if region is None:
            continue
        try:
            parsed = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return Phone(e164, True, parsed.extension or None)
    return Phone(value, False)


@dataclass(frozen=True)
class Postcode:
    """A postcode in its standard spacing, and the district it belongs to (None if unrecognised)."""

    code: str
    district: str | None


def postcode(value: str) -> Postcode:
    """Upper-case a UK postcode or Irish Eircode and put the single space where it belongs.

    A code of neither shape is kept upper-cased and trimmed, with no district.
    """
    compact = _SPACES.sub("", value).upper()
    for pattern in (_EIRCODE, _UK_POSTCODE):
        match = pattern.match(compact)
        if match:
            return Postcode(f"{match.group(1)} {match.group(2)}", match.group(1))
    return Postcode(" ".join(value.split()).upper(), None)
