"""Sign-in lands where the work is: the requests for case workers, the accounts for an admin."""

from __future__ import annotations

import pyotp
import pytest
from flask import Flask

from tests.conftest import post_form
from tests.staffkit import PASSWORD, add_staff

LANDING = {"agent": "/staff/queue", "dpo": "/staff/queue", "admin": "/staff/accounts"}


@pytest.mark.parametrize("role", sorted(LANDING))
def test_sign_in_lands_on_the_work_of_the_role(app: Flask, role: str) -> None:
    """No empty "staff area" page after signing in; the menu says "Requests"."""
    account = add_staff(app, f"{role}@example.org", role)
    client = app.test_client()
    code = pyotp.TOTP(account.secret).now()
    answer = post_form(
        client, "/staff/login", {"email": account.email, "password": PASSWORD, "code": code}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == LANDING[role]
    page = client.get(LANDING[role]).get_data(as_text=True)
    if role != "admin":
        assert ">Demandes</a>" in page and ">File</a>" not in page
        assert "Droit d’accès à mes données" not in page
