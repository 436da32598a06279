"""Role checks for staff views: every action is checked on the server (docs/security.md).

``requires`` guards a view with a permission of ``app.staffing.roles``; the staff
blueprint's ``_guard`` has already refused anyone not signed in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from app.models import StaffUser
from app.staffing import roles

F = TypeVar("F", bound=Callable[..., Any])


def me() -> StaffUser:
    """The signed-in member of staff (the blueprint guard guarantees one)."""
    user: StaffUser = current_user.user
    return user


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated) and roles.allowed(me().role, permission)


def requires(*permissions: str) -> Callable[[F], F]:
    """403 unless the signed-in person's role carries one of ``permissions``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not any(can(permission) for permission in permissions):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
