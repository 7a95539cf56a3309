"""Every link a role sees in the back office's menu bar (the menus, the language and the user
menu) opens for that role: no link to a page that answers 403 or 404. A patient's start page is
the patient portal: the links of its header are checked instead."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROLES


class NavbarLinks(HTMLParser):
    """The href of every <a> inside the element with class ``container`` ("navbar": the back
    office's menu bar; "pub-header": the public site's header)."""

    def __init__(self, container: str = "navbar") -> None:
        super().__init__()
        self.container = container
        self.depth = 0  # > 0 inside the navbar
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if self.depth:
            if tag not in ("br", "img", "input", "hr", "meta", "link"):
                self.depth += 1
        elif self.container in classes:
            self.depth = 1
        if self.depth and tag == "a":
            href = attributes.get("href") or ""
            if href and not href.startswith(("#", "javascript:")):
                self.links.append(href)

    def handle_endtag(self, tag):
        if self.depth and tag not in ("br", "img", "input", "hr", "meta", "link"):
            self.depth -= 1


def navbar_links(html: str, container: str = "navbar") -> list[str]:
    parser = NavbarLinks(container)
    parser.feed(html)
    return parser.links


def link_patient_login(app, api) -> None:
    from app.extensions import db
    from app.models import Patient

    patient_id = api.create("patient", {"full_name": "Nguyễn Văn An", "phone": "0912 345 678"})
    with app.app_context():
        db.session.get(Patient, patient_id).user_id = app.appbuilder.sm.find_user(username="patient").id
        db.session.commit()


@pytest.mark.parametrize("role", [r.lower() for r in ROLES])
def test_every_link_in_the_menu_bar_opens(app, api, login_as, role):
    if role == "patient":  # a patient's login is linked to their record (as sign-up does)
        link_patient_login(app, api)
    browser = login_as(role)
    home = browser.get("/", follow_redirects=True)
    assert home.status_code == 200
    if role == "patient":  # the back office is not theirs: its start page leads to the portal
        assert home.request.path == "/clinic/me/appointments"
    links = navbar_links(home.get_data(as_text=True), "pub-header" if role == "patient" else "navbar")
    assert links, "no menu bar"
    assert not [link for link in links if "logout" in link]  # logging out is a form (a POST), not a link
    broken = {}
    for link in sorted(set(links), key=links.index):
        path = urlsplit(link)
        response = browser.get(path.path + (f"?{path.query}" if path.query else ""), follow_redirects=True)
        if response.status_code != 200:
            broken[link] = response.status_code
    assert not broken, f"{role} sees links that do not open: {broken}"
    assert 'method="post" action="/logout/"' in home.get_data(as_text=True)
    assert browser.post("/logout/", follow_redirects=True).status_code == 200
