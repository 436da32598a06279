"""Files for the upload tests, made here: Pillow for pictures, pypdf for PDFs, bytes by hand.

Nothing is read from disk, so each test shows exactly what it sends.
"""

from __future__ import annotations

import io

import pypdf
from PIL import Image
from pypdf import generic


def png(size: tuple[int, int] = (64, 40), color: tuple[int, int, int] = (20, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 40), *, exif_place: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 180, 40))
    out = io.BytesIO()
    if exif_place:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x0112] = 6  # Orientation: rotated, so re-encoding must turn the pixels
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def pdf(pages: int = 1) -> bytes:
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_javascript() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    script = writer._add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/S"): generic.NameObject("/JavaScript"),
                generic.NameObject("/JS"): generic.TextStringObject("app.alert('hello');"),
            }
        )
    )
    names = generic.DictionaryObject(
        {
            generic.NameObject("/JavaScript"): generic.DictionaryObject(
                {
                    generic.NameObject("/Names"): generic.ArrayObject(
                        [generic.TextStringObject("hello"), script]
                    )
                }
            )
        }
    )
    writer._root_object[generic.NameObject("/Names")] = names
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_attachment() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_attachment("payload.html", b"<script>alert(1)</script>")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_open_action_launch() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    action = generic.DictionaryObject(
        {
            generic.NameObject("/S"): generic.NameObject("/Launch"),
            generic.NameObject("/F"): generic.TextStringObject("calc.exe"),
        }
    )
    writer._root_object[generic.NameObject("/OpenAction")] = writer._add_object(action)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def handwritten_pdf(catalog_extra: bytes, page_extra: bytes = b"") -> bytes:
    """A minimal one-page PDF, written by hand, whose catalogue carries ``catalog_extra``.

    Object 4 is a JavaScript action, reachable only if ``catalog_extra`` names it.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page_extra + b" >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    ]
    body = b"%PDF-1.7\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
