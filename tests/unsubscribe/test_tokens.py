"""Unsubscribe tokens: a round trip always verifies, any change is refused, hostile input never raises."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.unsubscribe import (
    CSRF_MAX_AGE,
    MAX_TOKEN_LENGTH,
    TokenSigner,
    UnsubscribeSecretError,
    signer_from,
    unsubscribe_link,
)

SECRET = "unit-test-secret-0123456789-abcdefghij"
OTHER_SECRET = "another-secret-0123456789-abcdefghijkl"
SIGNER = TokenSigner(SECRET)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SEND_IDS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)
TOKEN_CHARS = string.ascii_letters + string.digits + "_-."


@given(SEND_IDS)
def test_a_token_round_trips_to_its_send_id_and_is_url_safe(send_id: str) -> None:
    token = SIGNER.token(send_id)
    assert SIGNER.send_id(token) == send_id
    assert set(token) <= set(TOKEN_CHARS)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert token.startswith("v1.")


@given(SEND_IDS, st.data())
def test_any_single_change_to_a_token_is_refused(send_id: str, data: st.DataObject) -> None:
    token = SIGNER.token(send_id)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(TOKEN_CHARS).filter(lambda char: char != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    assert SIGNER.send_id(tampered) is None


@given(SEND_IDS, st.data())
def test_truncated_or_extended_tokens_are_refused(send_id: str, data: st.DataObject) -> None:
    token = SIGNER.token(send_id)
    cut = data.draw(st.integers(0, len(token) - 1))
    assert SIGNER.send_id(token[:cut]) is None
    assert SIGNER.send_id(token + data.draw(st.text(min_size=1, max_size=5))) is None


@given(SEND_IDS, SEND_IDS)
def test_a_token_for_one_send_never_verifies_for_another(first: str, second: str) -> None:
    signature = SIGNER.token(first).rsplit(".", 1)[1]
    if first != second:
        assert SIGNER.send_id(f"v1.{second}.{signature}") is None


@given(st.one_of(st.text(max_size=300), st.binary(max_size=100), st.integers(), st.none(), st.lists(st.text())))
def test_hostile_input_gives_none_never_an_exception(value: object) -> None:
    assert SIGNER.send_id(value) is None


def test_a_token_signed_with_another_secret_is_refused_and_a_previous_secret_still_verifies() -> None:
    old = TokenSigner(OTHER_SECRET)
    token = old.token("snd_abc")
    assert SIGNER.send_id(token) is None
    rotated = TokenSigner(SECRET, previous=[OTHER_SECRET])
    assert rotated.send_id(token) == "snd_abc"
    assert rotated.token("snd_abc") == SIGNER.token("snd_abc"), "only the current secret signs"


def test_the_version_is_part_of_the_token() -> None:
    token = SIGNER.token("snd_abc")
    assert SIGNER.send_id("v2" + token[2:]) is None
    assert SIGNER.send_id("V1" + token[2:]) is None


@pytest.mark.parametrize("secret", [None, "", "short", "x" * 31])
def test_a_missing_or_short_secret_is_refused(secret: str | None) -> None:
    with pytest.raises(UnsubscribeSecretError, match="JENGU_UNSUBSCRIBE_SECRET"):
        TokenSigner(secret)


def test_the_signer_reads_the_environment_mapping() -> None:
    signer = signer_from({"JENGU_UNSUBSCRIBE_SECRET": SECRET, "JENGU_UNSUBSCRIBE_PREVIOUS_SECRETS": OTHER_SECRET})
    assert signer.send_id(TokenSigner(OTHER_SECRET).token("snd_1")) == "snd_1"
    with pytest.raises(UnsubscribeSecretError):
        signer_from({})


@pytest.mark.parametrize("send_id", ["", "a.b", "a b", "ü", "x" * 65])
def test_only_send_ids_of_ours_are_signed(send_id: str) -> None:
    with pytest.raises(ValueError, match="not a send id"):
        SIGNER.token(send_id)


def test_the_link_adds_the_token_as_its_t_parameter() -> None:
    assert unsubscribe_link("https://u.example/u", "v1.a.b") == "https://u.example/u?t=v1.a.b"
    assert unsubscribe_link("https://u.example/u?list=x", "v1.a.b") == "https://u.example/u?list=x&t=v1.a.b"


# ---------------------------------------------------------------------------------------------- CSRF


def test_a_confirmation_form_value_is_bound_to_its_token_its_nonce_and_its_age() -> None:
    token, other = SIGNER.token("snd_a"), SIGNER.token("snd_b")
    nonce = SIGNER.new_nonce(NOW)
    csrf = SIGNER.csrf(token, nonce)
    assert SIGNER.csrf_valid(token, nonce, csrf, NOW + timedelta(minutes=3))
    assert not SIGNER.csrf_valid(other, nonce, csrf, NOW), "another send's page"
    assert not SIGNER.csrf_valid(token, SIGNER.new_nonce(NOW), csrf, NOW), "another page's nonce"
    assert not SIGNER.csrf_valid(token, nonce, csrf, NOW + CSRF_MAX_AGE + timedelta(seconds=1)), "too old"
    assert not SIGNER.csrf_valid(token, nonce, csrf, NOW - timedelta(hours=1)), "from the future"
    assert not TokenSigner(OTHER_SECRET).csrf_valid(token, nonce, csrf, NOW), "another secret"
    assert csrf != token.rsplit(".", 1)[1], "the CSRF key is not the token key"


@given(st.one_of(st.text(max_size=100), st.none(), st.integers()), st.one_of(st.text(max_size=100), st.none()))
def test_hostile_form_values_are_refused_without_an_exception(nonce: object, csrf: object) -> None:
    assert not SIGNER.csrf_valid(SIGNER.token("snd_a"), nonce, csrf, NOW)
