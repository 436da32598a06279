"""The package's wording (app.fulfilment.package_words) comes from the message catalogue."""

from __future__ import annotations

from app.fulfilment.package_words import count, language, words


def test_french_is_read_from_the_catalogue_and_english_is_the_code():
    """A French package reads the compiled catalogue; an English one the code's own text."""
    assert words("fr")["title"] == "Vos données de santé"
    assert words("en")["title"] == "Your health data"
    assert words("en-GB") == words("en") and words("de") == words("fr")


def test_every_word_is_translated():
    """Both languages name the same texts, and French differs wherever the words do."""
    french, english = words("fr"), words("en")
    assert set(french) == set(english)
    assert [k for k in english if french[k] == english[k]] == ["page"]


def test_the_words_for_someone_else_are_translated_and_differ_from_ones_own():
    """The texts that change for a package read by someone acting for the person: each
    one differs from one's own wording, and French differs from English."""
    for locale in ("fr", "en"):
        own, persons = words(locale), words(locale, for_other=True)
        assert set(own) == set(persons)
        changed = {k for k in own if own[k] != persons[k]}
        assert changed == {
            "title", "intro", "holder_title", "rights_title", "rights",
            "third_parties", "redactions_reason", "portable",
        }  # fmt: skip
        assert "DSR-1" in persons["intro"] % {"reference": "DSR-1"}
    french, english = words("fr", for_other=True), words("en", for_other=True)
    assert [k for k in english if french[k] == english[k]] == ["page"]


def test_the_introduction_takes_the_reference():
    """The introduction names the request, in either language."""
    for locale in ("fr", "en"):
        assert "DSR-1" in words(locale)["intro"] % {"reference": "DSR-1"}


def test_a_package_is_english_or_french():
    """English for English locales, French for every other."""
    assert [language(x) for x in ("en", "en_US", "fr", "fr_FR", "it")] == [
        "en", "en", "fr", "fr", "fr",
    ]  # fmt: skip


def test_a_count_of_records_agrees_with_its_number():
    """ "1 enregistrement", "2 enregistrements", "1 234 records": plural and grouping."""
    assert count("fr", 1) == "1 enregistrement"
    assert count("fr", 2) == "2 enregistrements"
    assert count("fr", 0) == "0 enregistrement"
    assert count("en", 1) == "1 record" and count("en", 1234) == "1,234 records"
    assert count("fr", 1234).replace("\u202f", " ").replace("\xa0", " ") == "1 234 enregistrements"
