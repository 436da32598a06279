"""What an identity document may be: the checks of app.identity.documents, without a client."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.identity import documents
from app.identity.documents import DocumentRefused, inspect
from tests.identity import files


def refused(data: bytes, max_bytes: int = documents.DEFAULT_MAX_BYTES) -> str:
    with pytest.raises(DocumentRefused) as caught:
        inspect(data, max_bytes)
    return caught.value.code


def test_an_empty_file_is_refused():
    """Zero bytes is not a document."""
    assert refused(b"") == "empty"


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    """One byte over the limit is too large, whatever it holds."""
    data = files.pdf()
    assert refused(data, max_bytes=len(data) - 1) == "too_large"
    assert inspect(data, max_bytes=len(data)).media_type == "application/pdf"


@pytest.mark.parametrize(
    "data",
    [files.HTML, b"MZ\x90\x00 a Windows program", b"GIF89a\x01\x00\x01\x00", b"PK\x03\x04zip"],
)
def test_the_type_comes_from_the_content_not_the_name(data):
    """A web page, a program, a GIF or a ZIP is refused, whatever it is called."""
    assert refused(data) == "wrong_type"


def test_a_pdf_header_on_something_else_is_unreadable():
    """Starting like a PDF is not enough: it must parse."""
    assert refused(b"%PDF-1.7\n" + files.HTML) == "unreadable"


def test_a_broken_picture_is_unreadable():
    """PNG magic followed by nothing a decoder understands."""
    assert refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) == "unreadable"
    assert refused(files.jpeg()[:40]) == "unreadable"


def test_a_png_with_a_pdf_and_a_web_page_appended_keeps_only_its_pixels():
    """A polyglot: re-encoding stores the picture alone, the payload is gone."""
    polyglot = files.png() + files.pdf_with_javascript() + files.HTML
    checked = inspect(polyglot)
    assert checked.media_type == "image/png"
    assert b"%PDF" not in checked.content
    assert b"<script" not in checked.content
    with Image.open(io.BytesIO(checked.content)) as image:
        assert image.size == (64, 40)


def test_a_jpeg_carrying_a_pdf_inside_stores_no_pdf():
    """A JPEG with ``%PDF`` in a comment and after its end: only pixels are kept."""
    raw = files.jpeg()
    # A COM segment right after SOI, holding a PDF header and a script.
    comment = b"%PDF-1.4 " + files.HTML
    with_comment = (
        raw[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + raw[2:]
    )
    for polyglot in (with_comment, raw + b"%PDF-1.4\n" + files.HTML):
        checked = inspect(polyglot)
        assert checked.media_type == "image/jpeg"
        assert b"%PDF" not in checked.content
        assert b"script" not in checked.content


def test_exif_is_dropped_and_the_photo_kept_upright():
    """The maker and orientation tags go; the pixels are turned as the tag said."""
    checked = inspect(files.jpeg((64, 40), exif_place=True))
    with Image.open(io.BytesIO(checked.content)) as image:
        assert dict(image.getexif()) == {}
        assert image.size == (40, 64)
    assert b"PhoneMaker" not in checked.content


def test_a_decompression_bomb_is_refused_before_decoding():
    """A small PNG of 400 megapixels is refused from its header."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    assert len(out.getvalue()) < documents.DEFAULT_MAX_BYTES
    assert refused(out.getvalue()) == "too_many_pixels"


def test_a_plain_pdf_is_accepted_and_rewritten():
    """A valid PDF is kept as pypdf writes it again; data after its end is dropped."""
    checked = inspect(files.pdf(pages=2) + files.HTML)
    assert checked.media_type == "application/pdf"
    assert checked.content.startswith(b"%PDF-")
    assert b"<script" not in checked.content


def test_valid_pictures_are_accepted():
    """A PNG and a JPEG made by Pillow pass and stay pictures of the same size."""
    for data, kind in ((files.png(), "image/png"), (files.jpeg(), "image/jpeg")):
        checked = inspect(data)
        assert checked.media_type == kind
        with Image.open(io.BytesIO(checked.content)) as image:
            assert image.size == (64, 40)


def test_a_pdf_with_javascript_is_refused():
    """A document-level script (the /Names /JavaScript tree)."""
    assert refused(files.pdf_with_javascript()) == "pdf_script"


@pytest.mark.parametrize(
    "extra",
    [
        b"/OpenAction 4 0 R",
        b"/AA << /WC 4 0 R >>",
        # ``#61`` is an escaped ``a``: the name is still /JavaScript once decoded.
        b"/Names << /J#61vaScript << /Names [(a) 4 0 R] >> >>",
    ],
)
def test_scripts_are_found_however_they_are_attached(extra):
    """Open action, additional actions, an obfuscated name: all are scripts."""
    assert refused(files.handwritten_pdf(extra)) == "pdf_script"


def test_an_open_action_that_only_shows_the_first_page_is_fine():
    """Scanners set /OpenAction to a destination; that runs nothing."""
    assert inspect(files.handwritten_pdf(b"/OpenAction [3 0 R /Fit]")).media_type == (
        "application/pdf"
    )


def test_a_pdf_with_an_attachment_is_refused():
    """An embedded file (here a web page) is refused."""
    assert refused(files.pdf_with_attachment()) == "pdf_attachment"


def test_a_launch_action_is_refused():
    """A link that would start a program."""
    annot = (
        b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /Launch /F (x) >> >>]"
    )
    assert refused(files.handwritten_pdf(b"", page_extra=annot)) == "pdf_launch"
    # And as an open action it is refused too, as an action run on opening.
    assert refused(files.pdf_with_open_action_launch()) in {"pdf_script", "pdf_launch"}


def test_an_xfa_form_is_refused():
    """XFA forms carry their own scripting."""
    assert refused(files.handwritten_pdf(b"/AcroForm << /Fields [] /XFA 4 0 R >>")) == "pdf_form"


def test_an_encrypted_pdf_is_refused():
    """Staff could not read it, and its content could not be searched."""
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.encrypt("secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert refused(out.getvalue()) == "pdf_encrypted"


def test_an_unreachable_script_object_is_not_stored():
    """A script object nothing points to is dropped by the rewrite, not carried along."""
    data = files.handwritten_pdf(b"")
    assert b"/JS" in data
    assert b"/JS" not in inspect(data).content
