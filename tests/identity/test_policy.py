"""The assurance policy file and the address comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.identity.addresses import address_key, same_address
from app.identity.policy import LEVELS, AssuranceError, load_assurance
from app.models import KINDS
from config import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "catalogue" / "assurance.toml"
STRONG = '["contact_match", "oidc", "document"]'


def policy_text(**overrides: str) -> str:
    """Every right with the strong levels, then ``right.need = value`` lines replaced."""
    lines = []
    for kind in KINDS:
        lines.append(f"[{kind}]")
        for need in ("show_plan", "act"):
            value = overrides.get(f"{kind}.{need}", STRONG)
            if value != "-":
                lines.append(f"{need} = {value}")
    return "\n".join(lines) + "\n"


def load(tmp_path: Path, text: str):
    path = tmp_path / "assurance.toml"
    path.write_text(text, encoding="utf-8")
    return load_assurance(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(AssuranceError) as error:
        load(tmp_path, text)
    return error.value.problems


def test_the_shipped_policy_needs_a_proof_for_everything_but_an_objections_act() -> None:
    policy = load_assurance(SHIPPED)
    for kind in KINDS:
        assert not policy.allows(kind, "show_plan", "email")
        assert policy.allows(kind, "act", "email") == (kind == "objection")
        for level in ("contact_match", "oidc", "document"):
            assert policy.allows(kind, "show_plan", level) and policy.allows(kind, "act", level)
        # "none" (not verified) allows nothing, whatever the file says.
        assert not policy.allows(kind, "act", "none")


def test_a_right_with_no_level_is_named_with_the_file(tmp_path: Path) -> None:
    text = policy_text().replace("[erasure]\n", "[erasur]\n")
    found = problems(tmp_path, text)
    assert any(p.startswith("assurance.toml: erasure: no levels") for p in found)
    assert any("erasur" in p and "Did you mean 'erasure'" in p for p in found)


def test_a_missing_need_and_an_unknown_level_are_named(tmp_path: Path) -> None:
    found = problems(
        tmp_path, policy_text(**{"access.act": "-", "portability.show_plan": '["passport"]'})
    )
    assert "assurance.toml: access.act: missing" in found[0]
    assert any(
        p.startswith("assurance.toml: portability.show_plan: unknown level 'passport'")
        for p in found
    )


@pytest.mark.parametrize(
    "key", [f"{kind}.{need}" for kind in KINDS for need in ("show_plan", "act")]
)
def test_the_emailed_link_alone_is_refused_where_it_would_disclose_or_change_data(
    tmp_path: Path, key: str
) -> None:
    text = policy_text(**{key: '["email", "oidc"]'})
    if key == "objection.act":
        assert load(tmp_path, text).allows("objection", "act", "email")
    else:
        assert any(
            p.startswith(f"assurance.toml: {key}: 'email' is not enough")
            for p in problems(tmp_path, text)
        )


def test_a_broken_file_stops_the_portal_with_its_name(make_app, tmp_path: Path) -> None:
    path = tmp_path / "assurance.toml"
    path.write_text("[access\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"assurance policy is wrong[\s\S]*assurance.toml"):
        make_app(ASSURANCE_FILE=str(path))


@given(st.sets(st.sampled_from(LEVELS), min_size=1), st.sampled_from(KINDS))
def test_no_policy_the_file_can_hold_shows_or_acts_on_the_link_alone(levels, kind) -> None:
    """Whatever levels a file lists, a loaded policy never lets 'email' show a plan, nor
    act on any right but an objection."""
    import tempfile

    listed = "[" + ", ".join(f'"{level}"' for level in sorted(levels)) + "]"
    text = policy_text(**{f"{kind}.show_plan": listed, f"{kind}.act": listed})
    with tempfile.TemporaryDirectory() as folder:
        try:
            policy = load(Path(folder), text)
        except AssuranceError:
            return
    assert not policy.allows(kind, "show_plan", "email")
    assert not policy.allows(kind, "act", "email") or kind == "objection"


def test_addresses_compare_by_mailbox_not_by_text() -> None:
    assert same_address("Camille.Lefevre@Example.ORG", "camille.lefevre@example.org")
    assert same_address("a@bücher.example", "a@xn--bcher-kva.example")
    # IDNA 2008: ß stays ß; groß.de is not gross.de.
    assert not same_address("anna@groß.de", "anna@gross.de")
    assert address_key("anna@groß.de") == "anna@xn--gro-7ka.de"
    assert not same_address("camille+x@example.org", "camille@example.org")
    assert not same_address(None, "a@b.example") and not same_address("", "")
