"""Portability's basis is cited correctly for every category (issue 18, correction 4).

Art. 20(1)(a) gives portability for processing based on consent or a
contract only: a category processed under a legal obligation is outside it,
and Art. 20(3) (the public-task exception) is not its reason. A category
processed for a public task is outside Art. 20(1)(a) too, and Art. 20(3)
says so expressly. The category's Art. 6 basis is the catalogue's.
"""

from __future__ import annotations

from app.services import services_of


def portability_rules(app):
    services = services_of(app)
    for source in services.catalogue.sources:
        for code, info in source.categories.items():
            yield code, info, services.policy.rule(code, "portability")


def test_a_legal_obligation_is_outside_art_20_1_a_and_not_cited_as_art_20_3(app):
    """Every non-portable category under Art. 6(1)(c) cites Art. 20(1)(a), never Art. 20(3)."""
    seen = 0
    for code, info, rule in portability_rules(app):
        if rule.portable is False and "6(1)(c)" in info.legal_basis.en:
            seen += 1
            assert "20(1)(a)" in rule.basis.en and "20.1.a" in rule.basis.fr, code
            assert "20(3)" not in rule.basis.en and "20.3" not in rule.basis.fr, code
    assert seen  # the demo catalogue has such categories


def test_a_public_task_cites_art_20_3_and_art_20_1_a(app):
    """Every non-portable category under Art. 6(1)(e) cites Art. 20(3) and Art. 20(1)(a)."""
    seen = 0
    for code, info, rule in portability_rules(app):
        if rule.portable is False and "6(1)(e)" in info.legal_basis.en:
            seen += 1
            assert "20(3)" in rule.basis.en and "20.3" in rule.basis.fr, code
            assert "20(1)(a)" in rule.basis.en and "20.1.a" in rule.basis.fr, code
    assert seen


def test_only_consent_or_contract_is_portable(app):
    """A portable category rests on consent (6(1)(a)) or a contract (6(1)(b))."""
    for code, info, rule in portability_rules(app):
        if rule.portable:
            assert "6(1)(a)" in info.legal_basis.en or "6(1)(b)" in info.legal_basis.en, code
