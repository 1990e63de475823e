"""The name field through the real app (AppTest): with sign-in on it shows the signed-in user
(read only) and notes are recorded under that user; without a remembered name it is empty.
The cookie that remembers a typed name is covered in Chromium (test_browser_identity.py)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.test_app import ROOT, TIMEOUT, rerun, start


def test_signed_in_user_names_the_changes(store_path: Path) -> None:
    assert start(store_path).text_input(key="author_name").value == ""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "email": "ann@example.com", "name": "Ann"}
    rerun(at)
    field = at.text_input(key="author_name")
    assert field.value == "ann@example.com"
    assert field.disabled
    at.switch_page("pages/review.py")
    rerun(at)
    at.text_area[0].input("Signed in")
    next(b for b in at.get("form_submit_button") if "Add note" in b.label).click()
    rerun(at)
    from ui import session

    store = session.store()
    cur = store.cursor()
    authors = {
        n.author
        for d in store.list_datasets(cur)
        for s in store.list_kpi_sets(cur, d.id)
        for n in store.notes(cur, s.id)
    }
    assert authors == {"ann@example.com"}
