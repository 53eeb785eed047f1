"""The start banner of ``shipdesk embedded`` names the demo organization and its id (the
command line's ``--org`` needs it)."""

from __future__ import annotations

import io
from typing import Any

from shipdesk.core.demo import DemoLogin
from shipdesk.core.management.commands.embedded import Command


def test_banner_prints_the_demo_organizations_name_and_id(org: Any) -> None:
    out = io.StringIO()
    command = Command(stdout=out)
    command._banner("http://127.0.0.1:8000/", DemoLogin(organization=org, email="demo@x.test",
                                                         password="pw"))
    text = out.getvalue()
    assert f"Organization: {org.name} (id {org.pk}" in text and "--org" in text
    assert "Password: pw" in text
