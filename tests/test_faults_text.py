"""Hostile text everywhere a user or a file can put it (issue 15): markdown images and links,
``javascript:`` URLs, HTML, Vega expressions, Streamlit directives, right-to-left overrides,
zero-width characters and 10 KB names, through an uploaded file (name, column headers,
values), the KPI builder, a KPI file, notes, saved views and the URL.

AppTest reads what each element is given to render: every markdown field (bodies, labels,
``help``, progress text) holds the text escaped by ``kpi_logic.text``, never markup; chart
specs hold it as literal titles. A real Chromium then opens the dashboard, Data, Review and
shared links over such data, with a local HTTP server as the address the hostile text points
at: it must get no request, and no dialog or script error may happen.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import threading
import unicodedata
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pandas as pd
import pytest
import vl_convert
import yaml
from streamlit.testing.v1 import AppTest

from kpi_logic import charts, export, workspace
from kpi_logic.kpi_file import kpis_to_yaml
from kpi_logic.model import KPI, Target
from kpi_logic.score import STATUS_SYMBOLS, score_records
from kpi_logic.store import Store, upload_dir_for
from kpi_logic.text import WORD_JOINER, markdown_text, plain_text
from tests.conftest import running_app
from tests.test_app import open_sections, rerun, start
from tests.test_browser import wait_for_app

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 120_000  # a cold server on a busy 2-core machine
NOWHERE = "http://127.0.0.1:9"  # AppTest fetches nothing; the browser test uses its own server


def hostile(tag: str, host: str = NOWHERE) -> str:
    """A name that is an image, a link, HTML, a Vega expression, a Streamlit directive, an
    autolink and hidden characters at once (under 200 characters: a store name fits)."""
    return (
        f"![{tag}]({host}/{tag}.png) [{tag}](javascript:alert(1)) <img src=x "
        f'onerror=alert(1)> :red[{tag}] {{{{datum.x}}}}"+alert(1)+" \u202e{tag}\u200b {host}/{tag}'
    )


def sql_name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


# --- what an element is given to render ------------------------------------------------------

MARKDOWN_FIELDS = ("body", "label", "help", "text")
PLAIN_ELEMENTS = {"code", "text", "exception", "vega_lite_chart", "arrow_data_frame"}
# our status words, each after its symbol
BADGE = re.compile(
    r":(green|orange|red|gray)-badge\[[A-Za-z " + "".join(STATUS_SYMBOLS.values()) + r"]+\]"
)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in (getattr(node, "children", None) or {}).values():
        yield from _walk(child)


def markdown_fields(at: AppTest) -> list[tuple[str, str, str]]:
    """``(element type, field, text)`` of every field rendered as markdown on the page."""
    found = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", type(node).__name__)
        if proto is None or kind in PLAIN_ELEMENTS:
            continue
        for field, value in proto.ListFields():
            if field.name in MARKDOWN_FIELDS and isinstance(value, str):
                found.append((kind, field.name, value))
            elif field.message_type is not None and not isinstance(value, str | bytes):
                for sub, text in getattr(value, "ListFields", list)():  # e.g. an expander's label
                    if sub.name in MARKDOWN_FIELDS and isinstance(text, str):
                        found.append((kind, f"{field.name}.{sub.name}", text))
    return found


def markup_in(text: str) -> list[str]:
    """What in ``text`` markdown or Streamlit would act on, other than our status badges."""
    text = BADGE.sub("", text)
    problems = re.findall(r"(?<!\\)[\[\]<>`~]", text)
    problems += re.findall(r"(?<!\\)\$", text)[1:]  # math needs two
    problems += re.findall(r"(?:https?|javascript):(?!\u2060)|:(?=red|material)|www\.", text)
    problems += [c for c in text if unicodedata.category(c) in ("Cf", "Cc") and c != WORD_JOINER]
    return problems


def chart_strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from chart_strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from chart_strings(v, key)
    elif isinstance(node, str):
        yield key, node


def check_page(at: AppTest) -> list[tuple[str, str, str]]:
    """Assert that no markdown field holds markup from user text and that chart specs hold
    user text only as titles; return the markdown fields for further checks."""
    fields = markdown_fields(at)
    bad = [(kind, name, text[:120]) for kind, name, text in fields if markup_in(text)]
    assert bad == []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        assert "href" not in json.dumps(spec)
        for key, value in chart_strings(spec):
            if "alert(" in value:
                assert key in ("title", "text"), (key, value)
                assert value == plain_text(value)
    return fields


def texts(at: AppTest) -> str:
    return "\n".join(text for _, _, text in markdown_fields(at))


# --- AppTest: files, builder, notes, views -------------------------------------------------------


def hostile_csv(column: str, values: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", column, "Amount"])
    for i in range(48):
        writer.writerow([f"2024-{1 + i % 6:02d}-01", values[i % len(values)], 10 + i])
    return out.getvalue().encode()


def upload_hostile_file(at: AppTest) -> tuple[str, str, list[str]]:
    """Upload a CSV whose name, header and values are hostile; return them."""
    name, column = hostile("file") + ".csv", hostile("col")
    values = [hostile("east"), hostile("west")]
    at.switch_page("pages/data.py")
    rerun(at)
    at.get("file_uploader")[0].set_value((name, hostile_csv(column, values), "text/csv"))
    rerun(at)
    return name, column, values


def test_a_hostile_file_and_kpi_are_text_on_every_page(store_path: Path) -> None:
    at = start(store_path)
    name, column, values = upload_hostile_file(at)
    check_page(at)
    shown = texts(at)
    assert markdown_text(name) in shown  # the "loaded" message names the file, escaped
    at.selectbox(key="retype_column").select(column)
    rerun(at)
    check_page(at)
    assert at.selectbox(key="retype_column").options[1] == plain_text(column)

    at.switch_page("pages/dashboard.py")
    rerun(at)
    at = open_sections(at, "open_add_kpi")
    check_page(at)  # the templates made from the hostile columns
    kpi, owner, about = hostile("kpi"), hostile("owner"), hostile("about")
    at.text_input(key="new_name").input(kpi)
    at.selectbox(key="new_agg").select("sum")
    rerun(at)
    at.selectbox(key="new_col").select("Amount")
    at.selectbox(key="new_time").select("Date")
    at.selectbox(key="new_by").select(column)
    at.text_input(key="new_filter").input(f"\"Amount\" >= 0 or {sql_name(column)} = '{values[0]}'")
    at.text_input(key="new_owner").input(owner)
    at.text_area(key="new_description").input(about)
    at.number_input(key="new_target").set_value(100)
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    at = open_sections(at, "open_edit_kpi", "open_category_targets", "open_share")
    fields = check_page(at)
    (card,) = at.metric
    assert (card.label, card.help) == (markdown_text(kpi), markdown_text(about))
    shown = texts(at)
    for part in (owner, column, values[0], values[1], '"Amount" >= 0', kpi):
        assert markdown_text(part) in shown
    assert ("subheader", "body", f"Targets · {markdown_text(kpi)}") in fields
    assert {markdown_text(v) for v in values} <= {s.label for s in at.slider}
    assert at.multiselect[0].label == markdown_text(column)
    bullet = next(c for c in at.get("vega_lite_chart") if "Actual against" in c.proto.spec)
    titles = [v for k, v in chart_strings(json.loads(bullet.proto.spec)) if k == "title"]
    assert plain_text(column) in titles

    view = hostile("view")
    at.text_input(key="view_name").input(view)
    rerun(at)
    at.button(key="save_view").click()
    rerun(at)
    check_page(at)
    assert [t.value for t in at.toast] == [f"Saved view “{markdown_text(view)}”."]

    at.text_input(key="author_name").input(hostile("author"))
    at.switch_page("pages/review.py")
    rerun(at)
    check_page(at)
    assert f"No notes on {markdown_text(kpi)} yet." in texts(at)
    at.text_area[0].input(hostile("note") + "\n\n# heading\n- item")
    next(b for b in at.button if b.label == "Add note").click()
    rerun(at)
    check_page(at)
    notes = next(f.value for f in at.dataframe if "Note" in f.value.columns)
    assert notes.iloc[0]["Author"] == hostile("author")  # a table cell: the text as typed


def test_a_hostile_kpi_file_is_text_and_its_refusal_too(store_path: Path) -> None:
    long_name = " ".join([hostile("long")] * 70)  # over 10 KB
    assert len(long_name.encode()) > 10_240
    good = {
        "name": long_name,
        "measure": 'sum("Revenue")',
        "time": "Date",
        "by": "Region",
        "owner": hostile("owner"),
        "description": hostile("about"),
        "target": {"default": 1000},
    }
    bad = {**good, "name": hostile("bad"), "unit": hostile("unit")}
    at = open_sections(start(store_path), "open_kpi_file")
    for kpis in ([good, bad], [good]):
        upload = yaml.safe_dump({"kpis": kpis}, allow_unicode=True).encode()
        at.get("file_uploader")[0].set_value((hostile("yaml") + ".yaml", upload, "text/yaml"))
        rerun(at)
        at.button(key="do_import").click()
        rerun(at)
        check_page(at)
        if len(kpis) == 2:
            (error,) = [e.value for e in at.error if e.value.startswith("Not imported")]
            assert markdown_text(hostile("unit")[:30]) in error
    (card,) = at.metric
    assert card.label == markdown_text(long_name)
    assert card.help == markdown_text(hostile("about"))
    assert markdown_text(hostile("owner")) in texts(at)


def test_a_hostile_link_is_reported_as_text(store_path: Path) -> None:
    name = hostile("url")
    params = {
        "kpi": name,
        "t": json.dumps({name: 5, "Revenue": "![t](http://127.0.0.1:9/t.png)"}),
        "f": json.dumps({"Region": [name], name: ["x"]}),
        "from": "![d](http://127.0.0.1:9/d.png)",
        "ds": "<script>alert(1)</script>",
        "v": "javascript:alert(1)",
    }
    at = start(store_path, params)
    check_page(at)
    warnings = [w.value for w in at.warning if w.value.startswith("Link:")]
    assert len(warnings) >= 5
    assert any("\\!\\[d\\]" in w or "!\\[d\\]" in w for w in warnings)
    # a printable hostile KPI name passes the link's checks and is then reported as unknown
    printable = plain_text(name)
    again = start(store_path, {"kpi": printable, "f": json.dumps({printable: ["x"]})})
    check_page(again)
    assert sum(w.value.startswith("Link:") for w in again.warning) == 2


# --- engine: charts and exports ------------------------------------------------------------------


def test_chart_titles_from_user_text_stay_strings_in_vega() -> None:
    rows = [
        {
            "category": hostile(name),
            "period": date(2024, 1, 1),
            "actual": actual,
            "target": 1.0,
            "attainment": actual,
            "status": "on target",
        }
        for name, actual in (("a", 1.0), ("b", 2.0))
    ]
    title = hostile("title")
    specs = [
        charts.bullet_chart(
            rows, unit="number", direction="higher", good=1, warning=0.9, category_title=title
        ),
        charts.heatmap(rows, category_title=title, title=title),
        charts.trend_chart(rows, unit="number", title=title),
    ]
    for spec in specs:
        vega = vl_convert.vegalite_to_vega(charts.to_json(spec))
        expressions = [v for k, v in chart_strings(vega) if k in ("signal", "expr", "update")]
        assert any("alert(1)" in e for e in expressions) or spec is specs[2]
        for expression in expressions:  # inside a quoted string, never code of its own
            assert not re.search(r'(?<!\\)"\+alert', expression), expression
            assert "\u202e" not in expression
        titles = [v for k, v in chart_strings(vega) if k in ("text", "title") and "alert" in v]
        assert titles
        assert all(t == plain_text(t) for t in titles)
    assert vl_convert.vegalite_to_svg(charts.to_json(specs[0])).count("<a ") == 0


@pytest.mark.parametrize(
    "cell",
    [
        "=1+1",
        "\t=1+1",
        "\r=1+1",
        " =1+1",
        '  \t=HYPERLINK("http://x")',
        "\n@SUM(A1)",
        "+1",
        "-1+1",
        "@x",
        "\tplain",
        "\rplain",
    ],
)
def test_formula_cells_are_neutralized_in_csv_and_excel(cell: str) -> None:
    frame = pd.DataFrame({cell: [cell], "actual": [1.0]})
    assert export.safe_cell(cell) == "'" + cell
    back = pd.read_csv(
        io.StringIO(export.to_csv_bytes(frame).decode("utf-8-sig")),
        keep_default_na=False,
        dtype=str,
    )
    assert list(back.columns)[0] == "'" + cell
    assert back.iloc[0, 0] == "'" + cell
    kpi = KPI(name=cell, measure='sum("Amount")', by="Region")
    record = {"kpi": cell, "category": cell, "period": None, "actual": 1.0, "as_of": None}
    results = score_records([record], [kpi])
    book = export.results_workbook([export.Sheet(cell, [kpi], results)])
    sheet = openpyxl.load_workbook(io.BytesIO(book)).active

    def read(column: int) -> str:  # OOXML writes a CR as _x000D_; Excel reads it back
        return str(sheet.cell(2, column).value).replace("_x000D_", "\r")

    assert read(1) == "'" + cell  # the KPI's name
    assert read(2) == "'" + cell  # its category
    assert sheet.cell(2, 1).data_type == "s"
    assert sheet.cell(2, 2).data_type == "s"


def test_text_that_is_no_formula_is_kept() -> None:
    for value in ("-12.5", "West", hostile("x"), "a=b", "1e-3"):
        assert export.safe_cell(value) == value


# --- a real browser ------------------------------------------------------------------------------


class Canary:
    """A local HTTP server that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                seen.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Canary:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_store(folder: Path, host: str) -> dict[str, Any]:
    """Add a dataset, KPI set, KPIs, notes and a saved view made of hostile text to the store
    in ``folder`` (a copy of the sample store), through the engine; return their names/ids."""
    path = folder / "kpi_store.duckdb"
    uploads = upload_dir_for(path)
    column, values = hostile("col", host), [hostile("east", host), hostile("west", host)]
    source = uploads / "hostile" / "export.csv"
    source.parent.mkdir(parents=True)
    source.write_bytes(hostile_csv(column, values))
    kpi = KPI(
        name=hostile("kpi", host),
        measure='sum("Amount")',
        owner=hostile("owner", host),
        description=hostile("about", host),
        filter=f"{sql_name(column)} <> '{hostile('none', host)}'",
        time="Date",
        by=column,
        target=Target(default=100.0),
    )
    long_kpi = KPI(
        name=" ".join([hostile("long", host)] * 70), measure='sum("Amount")', time="Date"
    )
    with Store(path, allowed_dirs=[uploads, ROOT / "data"]) as store:
        dataset, _ = workspace.add_dataset(
            store, store.cursor(), source, hostile("file", host), uploads
        )
        kpi_set = store.save_kpi_set(
            store.cursor(),
            dataset.id,
            hostile("set", host),
            kpis_to_yaml([kpi, long_kpi]),
            hostile("author", host),
        )
        store.add_note(
            store.cursor(), kpi_set, kpi.name, hostile("author", host), hostile("note", host)
        )
        view = store.save_view(
            store.cursor(), hostile("view", host), {"page": "review", "ds": dataset.id}
        )
    return {"dataset": dataset.id, "kpi": kpi.name, "view": view, "column": column}


@pytest.mark.browser
def test_hostile_text_fetches_nothing_and_runs_nothing_in_a_browser(
    browser, tmp_path: Path, sample_store: Path
) -> None:
    folder = tmp_path / "store"
    shutil.copytree(sample_store, folder)
    with Canary() as canary:
        made = hostile_store(folder, canary.url)
        with running_app(folder / "kpi_store.duckdb", tmp_path) as url:
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            dialogs: list[str] = []
            console: list[str] = []
            outgoing: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("request", lambda r: outgoing.append(r.url))
            ds = quote(made["dataset"])
            link = {
                "ds": made["dataset"],
                "kpi": plain_text(made["kpi"]),  # printable: read, then reported as unknown
                "f": json.dumps({made["column"]: [hostile("west", canary.url)]}),
            }
            visits = [
                (f"{url}/?ds={ds}", '[data-testid="stVegaLiteChart"] canvas, svg.marks'),
                (f"{url}/data?ds={ds}", '[data-testid="stDataFrame"]'),
                (f"{url}/review?ds={ds}", '[data-testid="stDataFrame"]'),
                (f"{url}/?{'&'.join(f'{k}={quote(v)}' for k, v in link.items())}", "text=Link:"),
                (f"{url}/?v={quote(made['view'])}", '[data-testid="stMetricValue"]'),
            ]
            for address, ready in visits:
                page.goto(address)
                page.locator(ready).first.wait_for(timeout=TIMEOUT_MS)
                wait_for_app(page)
                leaks = page.evaluate(
                    """host => [...document.querySelectorAll('img, a, image, iframe')]
                        .map(e => e.getAttribute('src') || e.getAttribute('href') || '')
                        .filter(s => s.includes(host) || s.startsWith('javascript'))""",
                    canary.url.removeprefix("http://"),
                )
                assert leaks == [], address
                if "canvas" in ready:  # tooltips evaluate their expressions on hover
                    page.locator('[data-testid="stVegaLiteChart"]').first.hover()
                    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
                    shown = [t.replace(WORD_JOINER, "").strip() for t in labels]
                    assert plain_text(made["kpi"]) in shown
                assert page.locator('[data-testid="stException"]').count() == 0
            context.close()
    assert canary.requests == []
    assert [u for u in outgoing if u.startswith(canary.url)] == []
    assert dialogs == []
    assert [m for m in console if "alert" in m or "pageerror" in m] == []


# --- access: a fresh server's first request to a page ----------------------------------------


def test_a_page_run_on_its_own_shows_only_the_password_form(store_path: Path) -> None:
    """Streamlit runs ``pages/review.py`` alone for a fresh server's first request to
    /review: it still shows nothing but the password form."""
    for page in ("review", "data", "dashboard"):
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=180)
        at.secrets["app_password"] = "secret"
        at.query_params["kpi"] = "Revenue"
        at.run()
        assert not at.exception
        assert [t.key for t in at.text_input] == ["app_password_input"]
        assert [t.value for t in at.title] == ["KPI Explorer"]
        assert not at.dataframe
        assert not at.metric
        assert not at.get("file_uploader")
        assert not at.sidebar.children


@pytest.mark.browser
def test_a_fresh_server_asks_for_the_password_on_its_first_page_request(
    browser, tmp_path: Path, sample_store: Path
) -> None:
    shutil.copytree(sample_store, tmp_path / "store")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('app_password = "secret"\n')
    store = tmp_path / "store" / "kpi_store.duckdb"
    with running_app(store, tmp_path, args=["--secrets.files", str(secrets)]) as url:
        page = browser.new_page()
        page.goto(f"{url}/data")  # the first request this server gets for a page
        page.get_by_label("App password").wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page)
        # the page list Streamlit shows beside the gate only leads to the gate again
        for hidden in ("stDataFrame", "stFileUploader", "stMetric", "stSelectbox"):
            assert page.locator(f'[data-testid="{hidden}"]').count() == 0, hidden
        assert page.get_by_role("heading", name="Data").count() == 0
        assert page.get_by_label("Your name (for notes and history)").count() == 0
        page.goto(f"{url}/review?kpi=Revenue")  # a link from that list, in the same session
        page.get_by_label("App password").wait_for(timeout=TIMEOUT_MS)
        wait_for_app(page)
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
        assert page.get_by_role("heading", name="Review").count() == 0
        page.close()
