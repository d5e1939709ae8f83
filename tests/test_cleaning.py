"""Cleaning rules: whitespace, e-mails, phone numbers, postcodes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.source import cleaning


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Julie-Anne ", "Julie-Anne", id="trimmed"),
        pytest.param("East   James", "East James", id="inner-spaces-collapsed"),
        pytest.param(
            "Studio 21\n  Edwards meadows ", "Studio 21\nEdwards meadows", id="lines-kept"
        ),
        pytest.param("   ", None, id="blank-is-none"),
        pytest.param(None, None, id="none"),
    ],
)
def test_text(raw, expected):
    assert cleaning.text(raw) == expected


@given(st.text(max_size=30) | st.text(alphabet="ab \t\n\r\x0b\x1c\x85\u2028\u3000", max_size=12))
def test_text_fast_path_changes_nothing_the_full_rule_would_keep(raw):
    """text() returns tidy values untouched without splitting them; the result is the same."""
    lines = [" ".join(part.split()) for part in raw.strip().splitlines()]
    full_rule = "\n".join(line for line in lines if line) or None
    assert cleaning.text(raw) == full_rule


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(" Simmons.Adrian@Example.COM ", "simmons.adrian@example.com", id="trim-lower"),
        pytest.param("vcomber@example.net", "vcomber@example.net", id="clean"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_email_normalised(raw, expected):
    assert cleaning.email(raw) == expected


@pytest.mark.parametrize("raw", ["no-at-sign", "two@@example.com", "x@nodot"])
def test_email_rejected(raw):
    with pytest.raises(ValueError):
        cleaning.email(raw)


@pytest.mark.parametrize(
    ("raw", "country", "number", "extension"),
    [
        pytest.param("+44(0)808 157 0808", "United Kingdom", "+448081570808", None, id="intl-0"),
        pytest.param("(0114)4960607", "United Kingdom", "+441144960607", None, id="national"),
        pytest.param("0113 496 0031", "United Kingdom", "+441134960031", None, id="spaced"),
        pytest.param("001-435-859-7623x945", "United Kingdom", "+14358597623", "945", id="00-ext"),
        pytest.param("683.687.7200", "United Kingdom", "+16836877200", None, id="us-dotted"),
        pytest.param("01 6148000", "Republic of Ireland", "+35316148000", None, id="irish"),
    ],
)
def test_phone_to_e164(raw, country, number, extension):
    phone = cleaning.phone(raw, country)
    assert phone == cleaning.Phone(number, True, extension)


def test_unreadable_phone_keeps_the_source_text():
    phone = cleaning.phone(" 12 ", "United Kingdom")
    assert phone == cleaning.Phone("12", False)


def test_missing_phone_is_none():
    assert cleaning.phone(None, "United Kingdom") is None


@pytest.mark.parametrize(
    ("raw", "code", "district"),
    [
        pytest.param("e7 1ns", "E7 1NS", "E7", id="uk-lower"),
        pytest.param("SW1A1AA", "SW1A 1AA", "SW1A", id="uk-no-space"),
        pytest.param(" LE28  6FS ", "LE28 6FS", "LE28", id="uk-spaces"),
        pytest.param("V41F9W6", "V41 F9W6", "V41", id="eircode-no-space"),
        pytest.param("d06 ehha", "D06 EHHA", "D06", id="eircode-lower"),
        pytest.param("D6W1234", "D6W 1234", "D6W", id="eircode-d6w"),
        pytest.param("not a code", "NOT A CODE", None, id="unrecognised"),
    ],
)
def test_postcode(raw, code, district):
    assert cleaning.postcode(raw) == cleaning.Postcode(code, district)
