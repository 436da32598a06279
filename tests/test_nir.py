"""Tests for NIR (French social-security number) validation and masking in app.nir."""

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.nir import NirError, mask_nir, nir_key, normalize_nir

VALID = ["255081416802538", "253072A07300443", "253072B07300470"]


def _with_key(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


@st.composite
def valid_bodies(draw: st.DrawFn) -> str:
    sex = draw(st.sampled_from("123478"))
    year = draw(st.integers(0, 99))
    month = draw(st.sampled_from([*range(1, 13), *range(20, 43), *range(50, 100)]))
    department = draw(st.sampled_from(["2A", "2B"]) | st.integers(0, 99).map("{:02d}".format))
    commune = draw(st.integers(0, 999))
    order = draw(st.integers(0, 999))
    return f"{sex}{year:02d}{month:02d}{department}{commune:03d}{order:03d}"


valid_nirs = valid_bodies().map(_with_key)


@pytest.mark.parametrize("nir", VALID)
def test_valid_examples_pass(nir):
    """The reference numbers, including both Corsican departments, are accepted unchanged."""
    assert normalize_nir(nir) == nir


def test_key_examples():
    """nir_key reads 2A as 19 and 2B as 18, in either case."""
    assert nir_key("2550814168025") == 38
    assert nir_key("253072A073004") == 43
    assert nir_key("253072b073004") == 70


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2 55 08 14 168 025 38", "255081416802538"),
        ("  255081416802538 ", "255081416802538"),
        ("253072a07300443", "253072A07300443"),
        ("2 53 07 2b 073 004 70", "253072B07300470"),
    ],
)
def test_spaces_and_lower_case_are_normalised(raw, expected):
    """Spaces are dropped and 2a/2b are upper-cased."""
    assert normalize_nir(raw) == expected


def test_key_97_is_accepted():
    """A body divisible by 97 has key 97, not 0."""
    body = next(str(n) for n in range(1_550_800_000_000, 1_550_900_000_000) if n % 97 == 0)
    assert nir_key(body) == 97
    assert normalize_nir(body + "97") == body + "97"
    with pytest.raises(NirError) as caught:
        normalize_nir(body + "00")
    assert caught.value.code == "key"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("255081416802539", "key"),
        ("25508141680253", "length"),
        ("2550814168025380", "length"),
        ("", "length"),
        ("25508141C802538", "characters"),
        ("2550814168025A8", "characters"),
        ("2A5081416802538", "characters"),
        ("2.55.08.14.168.025.38", "characters"),
        ("2-55-08-14-168-025-38", "characters"),
        ("2\t55081416802538", "characters"),
        ("2\u00a055081416802538", "characters"),
        ("25508141680253\u0668", "characters"),
        (_with_key("5550814168025"), "sex"),
        (_with_key("0550814168025"), "sex"),
        (_with_key("2550014168025"), "month"),
        (_with_key("2551314168025"), "month"),
        (_with_key("2554314168025"), "month"),
    ],
)
def test_invalid_numbers_carry_error_code(raw, code):
    """Each kind of mistake raises NirError with a code the form layer can translate."""
    with pytest.raises(NirError) as caught:
        normalize_nir(raw)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)


def test_error_message_never_contains_the_number():
    """NirError messages are safe to log: they do not echo the input."""
    for raw in ["255081416802539", "2550814168025", "555081416802538"]:
        with pytest.raises(NirError) as caught:
            normalize_nir(raw)
        message = str(caught.value)
        assert raw not in message
        assert not re.search(r"\d{5,}", message)


def test_mod_97_detects_every_single_digit_change():
    """A single-digit change shifts the body by d*10^k, never a multiple of the prime 97."""
    assert all((d * 10**k) % 97 for d in range(1, 10) for k in range(13))


@given(valid_bodies())
def test_body_with_computed_key_is_accepted(body):
    """Any well-formed body followed by its computed key is a valid NIR."""
    nir = _with_key(body)
    assert normalize_nir(nir) == nir


@given(valid_nirs, st.integers(0, 14), st.integers(1, 9))
def test_single_digit_substitution_is_rejected(nir, position, shift):
    """Changing any one digit of a valid NIR makes it invalid."""
    # The Corsican letter is not a digit; substitutions there are out of scope.
    assume(nir[position].isdigit())
    changed = nir[:position] + str((int(nir[position]) + shift) % 10) + nir[position + 1 :]
    with pytest.raises(NirError):
        normalize_nir(changed)


def test_mask_example():
    """The mask shows sex, birth year, birth month and key, and hides the rest."""
    assert mask_nir("255081416802538") == "2 55 08 ** *** *** 38"
    assert mask_nir("2 53 07 2a 073 004 43") == "2 53 07 ** *** *** 43"


def test_mask_rejects_invalid_number():
    """Masking an invalid number raises NirError rather than displaying it."""
    with pytest.raises(NirError):
        mask_nir("255081416802539")


@given(valid_nirs)
def test_mask_never_contains_middle_digits(nir):
    """Department, commune and order number never appear in the mask."""
    masked = mask_nir(nir)
    compact = masked.replace(" ", "")
    assert compact[5:13] == "*" * 8
    assert compact[:5] + compact[13:] == nir[:5] + nir[13:]
    assert nir[5:13] not in compact
