"""The fixed wording of an access package, in the package's language, from the message catalogue.

The package is written by the worker, outside any web request, so
flask_babel's locale does not apply: the catalogue of ``translations/`` is
loaded with babel for the request's own language (English is the text of the
code itself). Every entry has the context "package": the same English words
elsewhere in the portal may be translated otherwise, and a change here must
not change them there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from config import ROOT

TRANSLATIONS = ROOT / "translations"


@cache
def _catalogue(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [locale])


def language(locale: str) -> str:
    """The language a package is written in: English or French."""
    return "en" if locale.startswith("en") else "fr"


def count(locale: str, number: int) -> str:
    """ "1 record", "12 records": the number grouped as the language writes it."""
    catalogue = _catalogue(language(locale))
    text = catalogue.npgettext("package", "%(num)s record", "%(num)s records", number)
    return str(text) % {"num": format_decimal(number, locale=language(locale))}


def redacted(locale: str, passages: int) -> str:
    """ "3 passages about other people were masked." (the package's note of redactions)."""
    catalogue = _catalogue(language(locale))
    text = catalogue.npgettext(
        "package",
        "%(num)s passage about another person was masked in this copy.",
        "%(num)s passages about other people were masked in this copy.",
        passages,
    )
    return str(text) % {"num": format_decimal(passages, locale=language(locale))}


def words(locale: str, for_other: bool = False) -> dict[str, str]:
    """Every fixed text of the package, by name; ``intro`` takes ``%(reference)s``.

    ``for_other``: the requester acts for the person (a parent, a guardian, an heir,
    a mandated person), who is the package's subject: it speaks of the person's
    data, not of the reader's own.
    """
    catalogue = _catalogue(language(locale))

    def pgettext(context: str, message: str) -> str:
        return str(catalogue.pgettext(context, message))

    said = _own(pgettext)
    if for_other:
        said |= _the_persons(pgettext)
    return said


def _the_persons(pgettext: Callable[[str, str], str]) -> dict[str, str]:
    """The texts that change when the data is someone else's than the reader's."""
    return {
        "title": pgettext("package", "Health data of the person you act for"),
        "intro": pgettext(
            "package",
            "A copy of the data about the person you act for, given in answer to your "
            "request %(reference)s (GDPR Art. 15). It holds only what your relationship to "
            "the person gives you access to. Keep this file somewhere safe: it holds "
            "health data.",
        ),
        "holder_title": pgettext("package", "Who holds the person's data"),
        "rights_title": pgettext("package", "The person's rights"),
        "rights": pgettext(
            "package",
            "Inaccurate data may be corrected (Art. 16), erased (Art. 17) or its processing "
            "restricted (Art. 18), and its reuse for research objected to (Art. 21), through "
            "this same portal, as far as your relationship to the person allows.",
        ),
        "third_parties": pgettext(
            "package",
            "Information about other people is left out of this copy (GDPR Art. 15(4)). "
            "The health professionals who treated the person are named for what they did.",
        ),
        "redactions_reason": pgettext(
            "package",
            "Passages about other people were removed from some letters and notes: the "
            "law gives the person's own data, not information about third parties outside "
            "their care (GDPR Art. 15(4); Public Health Code, L.1110-4 and L.1111-7). Each "
            "is replaced by the words shown here in brackets.",
        ),
        "portable": pgettext(
            "package", "This JSON file is the portable copy of the person's data (GDPR Art. 20)."
        ),
    }


def _own(pgettext: Callable[[str, str], str]) -> dict[str, str]:
    return {
        "title": pgettext("package", "Your health data"),
        "intro": pgettext(
            "package",
            "A copy of the data about you, given in answer to your request %(reference)s "
            "(GDPR Art. 15). Keep this file somewhere safe: it holds health data.",
        ),
        "generated": pgettext("package", "Produced on"),
        "no_records": pgettext("package", "No record in this category."),
        "purposes": pgettext("package", "Purposes"),
        "legal_basis": pgettext("package", "Legal basis"),
        "recipients": pgettext("package", "Recipients"),
        "no_recipient": pgettext("package", "No recipient."),
        "transfers": pgettext("package", "Transfers outside the European Union"),
        "retention": pgettext("package", "Retention period"),
        "origin": pgettext("package", "Where the data comes from"),
        "automated_decisions": pgettext("package", "Automated decision-making"),
        "holder_title": pgettext("package", "Who holds your data"),
        "controller": pgettext("package", "Data controller"),
        "reference": pgettext("package", "Reference"),
        "summary_title": pgettext("package", "Summary"),
        "category": pgettext("package", "Category"),
        "records_heading": pgettext("package", "Records"),
        "period": pgettext("package", "Period covered"),
        "period_range": pgettext("package", "from %(start)s to %(end)s"),
        "period_one": pgettext("package", "on %(date)s"),
        "contents": pgettext("package", "Contents"),
        "back_to_contents": pgettext("package", "Back to the contents"),
        "information_title": pgettext("package", "What we do with this data"),
        "total": pgettext("package", "In all: %(count)s"),
        "yes": pgettext("package", "Yes"),
        "no": pgettext("package", "No"),
        "page": pgettext("package", "Page"),
        "page_of": pgettext("package", "of"),
        "rights_title": pgettext("package", "Your rights"),
        "rights": pgettext(
            "package",
            "You may ask for inaccurate data to be corrected (Art. 16), for erasure "
            "(Art. 17), for processing to be restricted (Art. 18), and object to its reuse "
            "for research (Art. 21), through this same portal.",
        ),
        "complaint": pgettext(
            "package",
            "You may lodge a complaint with the CNIL, the French data protection "
            "authority: https://www.cnil.fr/fr/plaintes (3 place de Fontenoy, TSA 80715, "
            "75334 Paris Cedex 07), and seek a judicial remedy before the competent court.",
        ),
        "contact": pgettext("package", "Data protection officer"),
        "third_parties": pgettext(
            "package",
            "Information about other people is left out of this copy (GDPR Art. 15(4)). "
            "The health professionals who treated you are named for what they did.",
        ),
        "redacted_marker": pgettext(
            "package", "[passage removed: information about another person]"
        ),
        "redactions_reason": pgettext(
            "package",
            "Passages about other people were removed from some letters and notes: the "
            "law gives you your own data, not information about third parties outside your "
            "care (GDPR Art. 15(4); Public Health Code, L.1110-4 and L.1111-7). Each is "
            "replaced by the words shown here in brackets.",
        ),
        "portable": pgettext(
            "package", "This JSON file is the portable copy of your data (GDPR Art. 20)."
        ),
        "public_task": pgettext(
            "package",
            "You asked for portability. It applies only to data you provided that we "
            "process on the basis of your consent or a contract (GDPR Art. 20(1)(a)): data "
            "we process under a legal obligation is outside it, and it never applies to a "
            "task carried out in the public interest (Art. 20(3)). Some of this data is "
            "processed on one of those two bases. You therefore receive the copy Article 15 "
            "provides, in a machine-readable format (JSON).",
        ),
    }
