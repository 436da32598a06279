"""Every input refuses control characters: one check before any view reads the request.

A NUL reached PostgreSQL from the staff sign-in, the queue search and the audit
filters and gave a 500 (PostgreSQL text cannot hold one), and other control
characters were stored as typed. Checking at the boundary, in one
``before_request``, covers what per-form validators cannot: the path (a case
reference, a token), query parameters parsed without a form (the queue's
filters, ``next``, cursors), the names of fields as well as their values, and
every route added later. Nobody types these characters into a browser; they
come from forged requests, so a plain 400 page in the visitor's language is
the right answer, and nothing has been read or written when it is given.

What is allowed: TAB, CR and LF in form values, because textareas carry
line breaks; TAB in query values (a pasted search); none of them in a path or
in a field's name. Never: the other C0 controls, DEL, and the C1 controls
(U+0080 to U+009F). Finer rules (no line break in a name, no format
characters) stay with the forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

from app.errors import render_error

ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
IN_QUERY_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
IN_FORM_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

View = TypeVar("View", bound=Callable[..., Any])
# functools.wraps copies a function's attributes, so the mark survives the decorators.
_SELF_CHECKED = "checks_control_characters_itself"
MESSAGE = _l(
    "What you sent contains an invisible control character, which this site does not "
    "accept. Please go back, type the text again and send it."
)


class ControlCharacters(BadRequest):
    """A path, a query parameter or a form field held a refused control character."""


def _pairs_refused(pairs: Iterable[tuple[str, str]], in_value: re.Pattern[str]) -> bool:
    return any(ANY_CONTROL.search(key) or in_value.search(value) for key, value in pairs)


def refused() -> bool:
    """True when this request carries a control character where none may be."""
    if ANY_CONTROL.search(request.path):
        return True
    # multi=True: a repeated name must not hide a second, poisoned value.
    if _pairs_refused(request.args.items(multi=True), IN_QUERY_VALUE):
        return True
    return _pairs_refused(request.form.items(multi=True), IN_FORM_VALUE)


def checks_itself(view: View) -> View:
    """Mark a view that makes this check itself, later than ``before_request`` would.

    Only the staff sign-in: its refusals are audited, so they must first be
    counted by its rate limit, which Flask-Limiter applies when the view is
    called. Otherwise anyone could write audit events without limit.
    """
    setattr(view, _SELF_CHECKED, True)
    return view


def _check() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, _SELF_CHECKED, False):
        return
    if refused():
        raise ControlCharacters()


def init_app(app: Flask) -> None:
    """Register the check, after the extensions: a forged cross-site post meets CSRF first."""
    app.before_request(_check)
    app.register_error_handler(ControlCharacters, lambda _error: refusal())


def refusal() -> ResponseReturnValue:
    """The 400 page (or JSON) that says what was refused, in the visitor's language."""
    return render_error(400, str(MESSAGE))
