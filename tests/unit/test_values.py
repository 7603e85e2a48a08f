"""Phone number, content and duration rules at their edges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_domain.errors import DomainValidationError
from core_domain.values import Content, PhoneNumber, format_duration, parse_duration


@pytest.mark.parametrize(
    "raw",
    ["5551234567", "+905551234567", "123456789012345", "+12345678901234"],
    ids=["10 digits", "E.164 with plus", "15 digits", "15 characters with plus"],
)
def test_phone_numbers_of_10_to_15_characters_are_accepted(raw: str) -> None:
    assert PhoneNumber.parse(raw).value == raw


@pytest.mark.parametrize(
    "raw",
    ["555123456", "+55512345", "1234567890123456", "+123456789012345"],
    ids=["9 digits", "9 characters with plus", "16 digits", "16 characters with plus"],
)
def test_phone_numbers_outside_10_to_15_characters_are_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError, match="10 to 15 characters") as caught:
        PhoneNumber.parse(raw)
    assert caught.value.field == "phoneNumber"


@pytest.mark.parametrize("raw", ["05551234567", "+05551234567"])
def test_a_leading_zero_is_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError, match="must not start with 0"):
        PhoneNumber.parse(raw)


@pytest.mark.parametrize(
    "raw",
    ["555123456a", "+90555CALLME", "++905551234567", "90555+12345", "+9٠٥٥٥١٢٣٤٥٦٧"],
)
def test_letters_and_misplaced_plus_signs_are_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError):
        PhoneNumber.parse(raw)


def test_spaces_dashes_and_brackets_are_removed_and_the_plus_kept() -> None:
    assert PhoneNumber.parse("+90 (555) 123-45 67").value == "+905551234567"


@pytest.mark.parametrize("raw", ["", "   ", "()- "])
def test_a_blank_phone_number_is_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError):
        PhoneNumber.parse(raw)


def test_content_of_exactly_160_characters_is_accepted() -> None:
    assert len(Content.parse("x" * 160).value) == 160


def test_content_of_161_characters_is_rejected() -> None:
    with pytest.raises(DomainValidationError, match="at most 160 characters \\(got 161\\)"):
        Content.parse("x" * 161)


@pytest.mark.parametrize("char", ["ğ", "€", "😀", "漢"])
def test_content_length_counts_characters_not_bytes(char: str) -> None:
    assert Content.parse(char * 160).value == char * 160
    with pytest.raises(DomainValidationError):
        Content.parse(char * 161)


def test_content_length_is_configurable() -> None:
    assert Content.parse("x" * 300, max_length=300).value == "x" * 300
    with pytest.raises(DomainValidationError):
        Content.parse("x" * 11, max_length=10)


@pytest.mark.parametrize("raw", ["", " ", "\n\t  \n"])
def test_blank_content_is_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError, match="must not be blank"):
        Content.parse(raw)


def test_content_is_trimmed_and_keeps_inner_newlines() -> None:
    assert Content.parse("  line one\nline two  ").value == "line one\nline two"


@pytest.mark.parametrize("raw", ["bell\x07", "nul\x00byte", "esc\x1b[31m", "tab\tinside"])
def test_control_characters_other_than_newline_are_rejected(raw: str) -> None:
    with pytest.raises(DomainValidationError, match="control characters"):
        Content.parse(raw)


def test_decomposed_accents_are_normalised_so_they_count_once() -> None:
    decomposed = "e\u0301" * 160  # é as e + combining accent: 320 code points, 160 characters
    assert Content.parse(decomposed).value == "\u00e9" * 160


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("2m", timedelta(minutes=2)),
        ("1h", timedelta(hours=1)),
        ("1m30s", timedelta(seconds=90)),
        ("1.5s", timedelta(seconds=1.5)),
    ],
)
def test_durations_are_parsed(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "two minutes", "5w", "-1s", "1m-"])
def test_malformed_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["500ms", "30s", "2m", "1h", "30d"])
def test_durations_format_back_to_their_shortest_form(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
