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
