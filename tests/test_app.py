"""The real Streamlit app through AppTest: every page, on the bundled sample and on generated
messy files, against a real store. Expected figures come from pandas over the same rows."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from kpi_logic.score import STATUS_SYMBOLS
from tests import messy_files as mf

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "data" / "sample_sales.csv"
SAMPLE_KPIS = ROOT / "data" / "sample_kpis.yaml"
TIMEOUT = 180


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_CSV, parse_dates=["Date"])
    frame["month"] = frame["Date"].dt.to_period("M").dt.start_time
    frame["quarter"] = frame["Date"].dt.to_period("Q").dt.start_time
    return frame


def start(store_path: Path, params: dict[str, str] | None = None) -> AppTest:
    """A fresh session of the app on the store at ``store_path`` (``store_path`` fixture)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def open_sections(at: AppTest, *keys: str) -> AppTest:
    """Open the sidebar sections with these expander keys (their content is drawn only while
    open), as a click on each would."""
    for key in keys:
        at.session_state[key] = True
    return rerun(at)


def chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The data sent with the chart whose title starts with ``title``."""
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        text = spec.get("title", {})
        text = text.get("text") if isinstance(text, dict) else text
        if str(text).startswith(title):
            frames = [
                pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets
            ]
            return pd.concat(frames, ignore_index=True)
    raise AssertionError(f"no chart titled {title!r}")


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has ``column``."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def card_status(at: AppTest, index: int) -> str:
    """The status badge text on the ``index``-th KPI card."""
    lines = [m.body for m in at.markdown if m.body.startswith(":") and "-badge[" in m.body]
    text = lines[index].split("[", 1)[1].split("]", 1)[0]
    return text.lstrip("".join(STATUS_SYMBOLS.values())).strip()  # the symbol, then the word


def test_sample_dashboard_shows_every_kpi_and_correct_trend(
    store_path: Path, sample: pd.DataFrame
) -> None:
    at = start(store_path)
    names = [k["name"] for k in yaml.safe_load(SAMPLE_KPIS.read_text())["kpis"]]
    assert [m.label for m in at.metric] == names
    assert at.selectbox(key="kpi_pick").value == "Revenue"
    trend = chart_data(at, "Trend")
    trend = trend[trend["actual"].notna()].drop_duplicates("period").sort_values("period")
    expected = sample.groupby("month")["Revenue"].sum()
    assert len(trend) == len(expected)
    assert list(pd.to_datetime(trend["period"]).dt.tz_localize(None)) == list(expected.index)
    assert trend["actual"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    bullet = chart_data(at, "Actual against target")
    last = sample[sample["month"] == sample["month"].max()].groupby("Region")["Revenue"].sum()
    got = bullet.drop_duplicates("category").set_index("category")["actual"]
    assert got.sort_index().to_numpy() == pytest.approx(last.sort_index().to_numpy())
    assert chart_data(at, "Attainment by category")["attainment"].notna().any()


def test_kpi_created_through_the_widgets_appears_with_its_value(
    store_path: Path, sample: pd.DataFrame
) -> None:
    at = open_sections(start(store_path), "open_add_kpi")
    at.text_input(key="new_name").input("Units sold")
    at.selectbox(key="new_agg").select("sum")
    rerun(at)
    at.selectbox(key="new_col").select("Units")
    at.selectbox(key="new_time").select("Date")
    at.selectbox(key="new_grain").select("quarter")
    at.selectbox(key="new_by").select("Channel")
    at.text_input(key="new_owner").input("Ops lead")
    at.text_area(key="new_description").input("Units shipped per quarter, all channels.")
    at.number_input(key="new_target").set_value(50_000)
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    card = next(m for m in at.metric if m.label == "Units sold")
    assert card.help == "Units shipped per quarter, all channels."
    assert at.selectbox(key="kpi_pick").value == "Units sold"
    trend = chart_data(at, "Trend")
    trend = trend[trend["actual"].notna()].drop_duplicates("period").sort_values("period")
    expected = sample.groupby("quarter")["Units"].sum()
    assert trend["actual"].to_numpy() == pytest.approx(expected.to_numpy())
    bullet = chart_data(at, "Actual against target").drop_duplicates("category")
    last = sample[sample["quarter"] == sample["quarter"].max()].groupby("Channel")["Units"].sum()
    assert bullet.set_index("category")["actual"].sort_index().to_numpy() == pytest.approx(
        last.sort_index().to_numpy()
    )
    # saved for the next session, with a history entry
    again = start(store_path)
    assert "Units sold" in [m.label for m in again.metric]


def test_a_typed_expression_is_checked_as_you_type(store_path: Path) -> None:
    at = open_sections(start(store_path), "open_add_kpi")
    at.text_input(key="new_name").input("Bad one")
    at.radio(key="new_mode").set_value("Expression")
    rerun(at)
    at.text_input(key="new_expr").input('sum("Revenu") + (SELECT 1)')
    rerun(at)
    assert any("not allowed" in e.body or "Revenu" in e.body for e in at.error)
    at.button(key="add_kpi").click()  # refused, with the reason under the field kept
    rerun(at)
    assert any("Not added yet" in e.body for e in at.error)
    assert "Bad one" not in [m.label for m in at.metric]
    at.text_input(key="new_expr").input('sum("revenue ") / count(*)')
    rerun(at)
    assert not at.error
    at.button(key="add_kpi").click()
    rerun(at)
    assert "Bad one" in [m.label for m in at.metric]


def test_moving_a_target_slider_rescores_cards_and_charts(
    store_path: Path, sample: pd.DataFrame
) -> None:
    at = start(store_path)
    last_month = sample[sample["month"] == sample["month"].max()]["Revenue"].sum()
    slider = at.slider(key="slider::Revenue")
    assert slider.value == pytest.approx(4_000_000)  # the saved total target
    low, high = round(last_month * 0.5, -3), round(last_month * 1.3, -3)
    assert slider.min <= low < high <= slider.max  # both within the slider's reach
    slider.set_value(low)
    rerun(at)
    assert card_status(at, 0) == "On target"
    assert set(chart_data(at, "Trend")["target"].dropna()) == {low}
    at.slider(key="slider::Revenue").set_value(high)
    rerun(at)
    assert card_status(at, 0) == "Off target"
    assert set(chart_data(at, "Trend")["target"].dropna()) == {high}
    assert at.number_input(key="number::Revenue").value == pytest.approx(high)
    # one category's target: the bullet's target for that category only
    open_sections(at, "open_category_targets")
    at.number_input(key="number::Revenue@West").set_value(123_456.0)
    rerun(at)
    bullet = chart_data(at, "Actual against target").drop_duplicates("category")
    targets = bullet.set_index("category")["target"]
    assert targets["West"] == pytest.approx(123_456.0)
    assert targets["North"] == pytest.approx(1_100_000)
    # saving makes it the stored target, with who and what in the history
    at.session_state["author_name"] = "Dana"  # the sidebar field of app.py
    at.button(key="save_targets").click()
    rerun(at)
    reopened = start(store_path)
    assert reopened.slider(key="slider::Revenue").value == pytest.approx(high)
    reopened.switch_page("pages/review.py")
    rerun(reopened)
    history = table_with(reopened, "Change")
    assert history.iloc[0]["Who"] == "Dana"
    assert "Revenue" in history.iloc[0]["Change"]
    assert "123,456" in history.iloc[0]["Change"]


def test_a_target_move_redraws_the_link_the_slider_and_the_bands_verdict(
    store_path: Path, sample: pd.DataFrame
) -> None:
    """A target move redraws only the cards, charts, targets panel and link (fragments):
    the open share panel's link, the address and the slider all carry the typed target, and
    the bands slider re-judges the card."""
    at = open_sections(start(store_path), "open_share")
    last_month = sample[sample["month"] == sample["month"].max()]["Revenue"].sum()
    target = round(last_month / 0.8, 2)  # attainment 80%: below the sample's bands
    at.number_input(key="number::Revenue").set_value(target)
    rerun(at)
    (link,) = [c.value for c in at.code if "t=" in c.value]
    shared = json.loads(parse_qs(urlparse(link).query)["t"][0])
    assert shared["Revenue"] == pytest.approx(target)
    assert json.loads(at.query_params["t"])["Revenue"] == pytest.approx(target)
    assert at.slider(key="slider::Revenue").value == pytest.approx(target, rel=0.01)
    assert card_status(at, 0) == "Off target"
    at.slider(key="bands::Revenue").set_value((0.7, 0.75))
    rerun(at)
    assert card_status(at, 0) == "On target"


def test_a_link_reopens_the_same_view(store_path: Path) -> None:
    first = start(store_path)
    dataset = first.selectbox(key="dataset_pick").value
    params = {
        "ds": dataset,
        "kpi": "Profit Margin",
        "t": json.dumps({"Revenue@North": 2_500_000.0}),
        "f": json.dumps({"Region": ["North", "East"]}),
    }
    at = start(store_path, params)
    assert at.selectbox(key="kpi_pick").value == "Profit Margin"
    assert set(at.multiselect(key="filter_Region").value) == {"East", "North"}
    bullet = chart_data(at, "Actual against target")
    assert set(bullet["category"]) == {"North", "East"}
    at.selectbox(key="kpi_pick").select("Revenue")
    open_sections(at, "open_category_targets")
    assert at.slider(key="slider::Revenue@North").value == pytest.approx(2_500_000.0)
    targets = chart_data(at, "Actual against target").drop_duplicates("category")
    assert targets.set_index("category")["target"].to_dict() == {
        "East": 1_050_000,
        "North": 2_500_000,
    }


@pytest.mark.parametrize(
    "params",
    [
        {"ds": "x' OR 1=1 --", "t": "{not json", "kpi": "K" * 5000},
        {"ds": "0" * 32, "ks": "f" * 32},
        {"t": json.dumps({"Revenue": "NaN"}), "from": "2024-13-45", "to": "yesterday"},
        {"f": json.dumps({"Region": [1, 2, {"a": 1}]}), "v": "../../etc/passwd"},
        {"f": "[" * 3000, "t": "1e999"},
    ],
)
def test_hostile_links_get_a_message_never_a_traceback(
    store_path: Path, params: dict[str, str]
) -> None:
    at = start(store_path, params)
    assert len(at.metric) == 10
    assert any(w.body.startswith("Link:") for w in at.warning)


def test_a_filter_that_leaves_no_rows_is_explained(store_path: Path) -> None:
    at = start(store_path, {"from": "2030-01-01", "to": "2030-12-31"})
    assert not at.metric
    assert any("No rows match" in w.body for w in at.warning)
    at.button(key="clear_filters").click()
    rerun(at)
    assert len(at.metric) == 10


def messy_csv(rows: int) -> tuple[bytes, pd.DataFrame]:
    """A semicolon, decimal-comma, cp1252 export with padded headers and a ragged row."""
    lines = [" Datum ;Région; Umsatz ;Anzahl"]
    records = []
    for i in range(rows):
        day, month = 1 + i % 28, 1 + (i // 28) % 12
        amount = round(1000 + i * 1.25, 2)
        text = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        lines.append(f"{day:02d}.{month:02d}.2024;{'Süd' if i % 3 else 'Nord'};{text} €;{i % 7}")
        records.append({"Umsatz": amount, "Anzahl": i % 7})
    return ("\r\n".join(lines) + "\r\n").encode("cp1252"), pd.DataFrame(records)


def test_data_page_uploads_a_messy_file_and_survives_bad_ones(store_path: Path) -> None:
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    content, expected = messy_csv(500)
    at.get("file_uploader")[0].set_value(("umsatz export.csv", content, "text/csv"))
    rerun(at)
    assert any(f"loaded {len(expected):,} rows" in s.body for s in at.success)
    profile = at.dataframe[1].value.set_index("column")
    assert profile.loc["Umsatz", "type"] == "number"
    assert profile.loc["Datum", "type"] == "date"
    preview = at.dataframe[0].value
    assert preview["Umsatz"].sum() == pytest.approx(expected["Umsatz"].head(200).sum())
    before = at.selectbox(key="data_pick").options

    at.get("file_uploader")[0].set_value(("empty.csv", b"", "text/csv"))
    rerun(at)
    assert any("empty.csv was not loaded" in e.body for e in at.error)
    at.get("file_uploader")[0].set_value(
        ("report.xlsx", b"<html><body>not a workbook</body></html>", "application/octet-stream")
    )
    rerun(at)
    assert any("report.xlsx was not loaded" in e.body for e in at.error)
    assert at.selectbox(key="data_pick").options == before
    assert at.dataframe[0].value["Umsatz"].sum() == pytest.approx(
        expected["Umsatz"].head(200).sum()
    )


def test_changing_a_column_type_reloads_the_dataset(store_path: Path) -> None:
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    content = b"Code,Amount\n123,5\n456,7\n789,9\n"
    at.get("file_uploader")[0].set_value(("codes.csv", content, "text/csv"))
    rerun(at)
    assert table_with(at, "column").set_index("column").loc["Code", "type"] == "integer"
    at.selectbox(key="retype_column").select("Code")
    at.selectbox(key="retype_type").select("text")
    rerun(at)
    at.button(key="retype").click()
    rerun(at)
    assert any("“Code” is now text" in s.body for s in at.success)
    assert table_with(at, "column").set_index("column").loc["Code", "type"] == "text"
    assert list(table_with(at, "Code")["Code"]) == ["123", "456", "789"]
    assert any(c.body == "Set by hand: Code → text" for c in at.caption)
    # a new session sees the changed type too
    again = start(store_path, {"ds": at.selectbox(key="data_pick").value})
    again.switch_page("pages/data.py")
    rerun(again)
    assert table_with(again, "column").set_index("column").loc["Code", "type"] == "text"


def test_review_page_notes_history_and_exports(store_path: Path) -> None:
    at = start(store_path)
    at.switch_page("pages/review.py")
    rerun(at)
    overview = at.dataframe[0].value
    assert list(overview["KPI"])[:2] == ["Revenue", "Profit Margin"]
    assert overview.loc[0, "Owner"] == "Regional sales managers"
    at.selectbox(key="note_kpi").select("Profit Margin")
    rerun(at)
    at.text_area[0].input("Discounts in the East ate the margin; pricing review on Friday.")
    at.selectbox[1].select("at risk")
    submit = [b for b in at.button if b.label == "Add note"][0]
    submit.click()
    rerun(at)
    notes = table_with(at, "Note")
    assert notes.iloc[0]["Note"].startswith("Discounts in the East")
    assert notes.iloc[0]["Status"] == "at risk"
    overview = at.dataframe[0].value.set_index("KPI")
    assert "Discounts in the East" in overview.loc["Profit Margin", "Last note"]
    labels = [b.label for b in at.get("download_button")]
    assert {"Results as CSV", "Results as Excel"} <= set(labels)


def test_empty_store_after_deleting_the_only_dataset(store_path: Path) -> None:
    at = start(store_path)
    at.switch_page("pages/data.py")
    open_sections(at, "open_delete_dataset")
    at.text_input(key="delete_confirm").input("Sample sales (bundled)")
    rerun(at)
    at.button(key="delete_dataset").click()
    rerun(at)
    assert any("No dataset yet" in i.body for i in at.info)
    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert any("no dataset yet" in i.body.lower() for i in at.info)


def test_an_app_password_from_secrets_guards_every_page(store_path: Path) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.secrets["app_password"] = "correct horse"
    at.run()
    assert not at.metric
    assert not at.exception
    at.text_input(key="app_password_input").input("wrong")
    at.button[0].click()  # the gate's form: a try is a submit
    rerun(at)
    assert any("not right" in e.body for e in at.error)
    assert not at.metric
    at.text_input(key="app_password_input").input("correct horse")
    at.button[0].click()
    rerun(at)
    assert len(at.metric) == 10


def test_saved_views_save_open_rename_delete(store_path: Path) -> None:
    params = {"kpi": "Profit Margin", "f": json.dumps({"Region": ["West"]})}
    at = open_sections(start(store_path, params), "open_share")
    at.text_input(key="view_name").input("West margins")
    at.run()  # the name enables the button, as typing does in a browser
    at.button(key="save_view").click()
    rerun(at)

    other = open_sections(start(store_path), "open_share")  # a colleague's, default view
    assert other.selectbox(key="kpi_pick").value == "Revenue"
    assert other.selectbox(key="view_pick").options == ["West margins"]
    other.button(key="open_view").click()
    rerun(other)
    assert other.selectbox(key="kpi_pick").value == "Profit Margin"
    assert set(chart_data(other, "Actual against target")["category"]) == {"West"}

    renamer = open_sections(start(store_path), "open_share")
    renamer.text_input(key="view_rename").input("West margin review")
    renamer.run()
    renamer.button(key="rename_view").click()
    rerun(renamer)
    remover = open_sections(start(store_path), "open_share")
    assert remover.selectbox(key="view_pick").options == ["West margin review"]
    remover.button(key="delete_view").click()
    rerun(remover)
    after = open_sections(start(store_path), "open_share")
    assert "save_view" in [b.key for b in after.button]  # the panel is open...
    assert "view_pick" not in [s.key for s in after.selectbox]  # ... with no saved view


def test_a_single_period_target_applies_to_that_period_only(
    store_path: Path, sample: pd.DataFrame
) -> None:
    last = sample["month"].max().date()
    at = start(
        store_path, {"kpi": "New Customers", "t": json.dumps({f"New Customers|{last}": 5e3})}
    )
    actual = sample[sample["month"] == sample["month"].max()]["New Customers"].sum()
    assert actual < 5_000 * 0.9  # so the card must be off target
    assert card_status(at, 9) == "Off target"
    trend = chart_data(at, "Trend").dropna(subset=["target"]).drop_duplicates("period")
    targets = dict(zip(pd.to_datetime(trend["period"]).dt.date, trend["target"], strict=True))
    assert targets.pop(last) == 5_000
    assert set(targets.values()) == {3_000}  # the saved target of every other month


def test_a_target_move_never_queries_the_data_again(store_path: Path) -> None:
    """After the first run the dataset's table is renamed away: a slider move still re-scores
    (a query on the table would fail and turn the card into an error), so it used the cached
    aggregate only."""
    from ui import session

    at = start(store_path)
    store = session.store()  # the app's own store object (cached per process and path)
    cur = store.cursor()
    (dataset,) = store.list_datasets(cur)
    cur.execute(f'ALTER TABLE "{dataset.table}" RENAME TO "{dataset.table}_away"')
    try:
        at.slider(key="slider::Revenue").set_value(6_000_000.0)  # the slider's top
        rerun(at)
        assert card_status(at, 0) == "Off target"
        assert set(chart_data(at, "Trend")["target"].dropna()) == {6_000_000.0}
    finally:
        cur.execute(f'ALTER TABLE "{dataset.table}_away" RENAME TO "{dataset.table}"')


def test_every_kind_of_bad_file_gets_one_line_and_loses_nothing(
    store_path: Path, tmp_path: Path
) -> None:
    bad = [
        mf.empty_file(tmp_path),
        mf.png_named_csv(tmp_path),
        mf.random_bytes_csv(tmp_path),
        mf.truncated_xlsx(tmp_path),
        mf.encrypted_xlsx(tmp_path),
        mf.zip_bomb_xlsx(tmp_path),
        mf.wide_csv(tmp_path),
    ]
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    before = at.selectbox(key="data_pick").options
    for path in bad:
        at.get("file_uploader")[0].set_value((path.name, path.read_bytes(), "text/csv"))
        rerun(at)
        errors = [e.body for e in at.error if e.body.startswith(f"{path.name} was not loaded")]
        assert len(errors) == 1, path.name
        assert "\n" not in errors[0], path.name
        assert at.selectbox(key="data_pick").options == before
    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert len(at.metric) == 10  # the sample and its KPIs are untouched


def test_a_workbook_loads_its_first_sheet_and_offers_the_others(
    store_path: Path, tmp_path: Path
) -> None:
    messy = mf.excel_xlsx(tmp_path)
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    at.get("file_uploader")[0].set_value(
        (messy.path.name, messy.path.read_bytes(), "application/octet-stream")
    )
    rerun(at)
    rows = len(messy.columns["Amount"])
    assert any(f"loaded {rows:,} rows" in s.body and "Orders" in s.body for s in at.success)
    assert sum(table_with(at, "Amount")["Amount"]) == pytest.approx(sum(messy.columns["Amount"]))
    assert at.selectbox(key="sheet_pick").options == ["Orders", "Notes"]
    at.selectbox(key="sheet_pick").select("Notes")
    at.button(key="load_sheet").click()
    rerun(at)
    assert at.selectbox(key="data_pick").value is not None
    assert list(table_with(at, "Note")["Note"]) == ["hello"]
    assert len(at.selectbox(key="data_pick").options) == 3  # sample, Orders, Notes


def test_a_template_turns_an_uploaded_export_into_a_kpi(store_path: Path) -> None:
    rows = [
        (f"2024-{1 + i % 6:02d}-{1 + i % 28:02d}", ["North", "South"][i % 2], 100 + i, 60 + i // 2)
        for i in range(300)
    ]
    text = "Order Date,Region,Revenue,Cost\n" + "".join(
        f'{d},{r},"${v:,}.00",{c}\n' for d, r, v, c in rows
    )
    at = start(store_path)
    at.switch_page("pages/data.py")
    rerun(at)
    at.get("file_uploader")[0].set_value(("orders.csv", text.encode(), "text/csv"))
    rerun(at)
    at.switch_page("pages/dashboard.py")
    rerun(at)
    assert any("no KPI yet" in i.body for i in at.info)
    at.button(key="open_add").click()  # the editor, opened from the main area
    rerun(at)
    labels = at.selectbox(key="template_pick").options
    revenue = next(label for label in labels if label.startswith("Revenue"))
    at.selectbox(key="template_pick").select(revenue)
    rerun(at)
    at.button(key="add_template").click()
    rerun(at)
    assert [m.label for m in at.metric] == ["Revenue"]
    june = sum(v for d, _, v, _ in rows if d.startswith("2024-06"))
    trend = chart_data(at, "Trend").dropna(subset=["actual"]).drop_duplicates("period")
    assert trend.sort_values("period")["actual"].iloc[-1] == pytest.approx(june)


def test_drilling_down_judges_the_card_on_the_picked_categories(
    store_path: Path, sample: pd.DataFrame
) -> None:
    last = sample[sample["month"] == sample["month"].max()]
    north = last[last["Region"] == "North"]["Revenue"].sum()
    picked = last[last["Region"].isin(["North", "South"])]["Revenue"].sum()
    assert north >= 1_100_000
    assert picked >= 1_100_000 + 900_000

    one = start(store_path, {"f": json.dumps({"Region": ["North"]})})
    assert card_status(one, 0) == "On target"
    partial = [c.body for c in one.caption if c.body.startswith("Filtered by Region")]
    assert len(partial) == 1
    assert "Revenue" not in partial[0]
    assert "Customer Acquisition Cost" in partial[0]  # by Channel: a part vs the whole
    assert chart_data(one, "Trend")["target"].dropna().unique().tolist() == [1_100_000]
    assert "slider::Revenue" not in [s.key for s in one.slider]  # set per Region instead

    two = start(store_path, {"f": json.dumps({"Region": ["North", "South"]})})
    assert card_status(two, 0) == "On target"
    assert chart_data(two, "Trend")["target"].dropna().unique().tolist() == [2_000_000]
    # a ratio is judged against the picked categories' common target (never a sum of them)
    params = {"f": json.dumps({"Region": ["North", "South"]}), "kpi": "Profit Margin"}
    ratio = start(store_path, params)
    assert chart_data(ratio, "Trend")["target"].dropna().unique().tolist() == [0.45]


def test_a_zero_target_is_a_target_judged_by_the_gap(store_path: Path) -> None:
    """Target 0 (zero defects) is a target: no division by zero, the gap instead; the regions'
    targets that do not add up to the total's show the unallocated part."""
    at = start(store_path, {"t": json.dumps({"Revenue": 0})})
    assert card_status(at, 0) == "On target"  # higher is better, and revenue is >= 0
    line = [m.body for m in at.markdown if "-badge[" in m.body][0]
    sample = pd.read_csv(ROOT / "data" / "sample_sales.csv", parse_dates=["Date"])
    latest = sample[sample["Date"].dt.to_period("M") == sample["Date"].max().to_period("M")]
    gap = latest["Revenue"].sum()  # actual - 0
    assert f"**+\\${gap / 1e6:.1f}M** against target (\\$0)" in line
    assert "of target" not in line
    allocated = 1_100_000 + 900_000 + 1_050_000 + 1_000_000 * (latest["Region"].nunique() - 3)
    captions = [c.value for c in at.caption]
    note = f"Region targets add up to \\${allocated / 1e6:.1f}M of the \\$0 total: "
    assert f"{note}\\${allocated / 1e6:.1f}M over it" in captions
    assert not at.exception


def test_a_broken_kpi_is_reported_and_not_recomputed_on_a_slider_move(
    store_path: Path,
) -> None:
    """A KPI DuckDB can't compute (a sum of text) shows its error on its card; the others
    still compute, and a target move re-scores without going back to the data."""
    from ui import session

    at = open_sections(start(store_path), "open_add_kpi")
    at.text_input(key="new_name").input("Broken")
    at.radio(key="new_mode").set_value("Expression")
    rerun(at)
    at.text_input(key="new_expr").input('sum("Region")')
    rerun(at)
    at.button(key="add_kpi").click()
    rerun(at)
    assert any('"Broken" could not be computed' in e.body for e in at.error)
    assert card_status(at, 0) == "On target"  # Revenue is unaffected
    cur = session.store().cursor()
    (dataset,) = session.store().list_datasets(cur)
    cur.execute(f'ALTER TABLE "{dataset.table}" RENAME TO "{dataset.table}_away"')
    try:
        at.selectbox(key="kpi_pick").select("Revenue")
        rerun(at)
        at.slider(key="slider::Revenue").set_value(6_000_000.0)  # the slider's top
        rerun(at)
        assert card_status(at, 0) == "Off target"
        assert any('"Broken" could not be computed' in e.body for e in at.error)
    finally:
        cur.execute(f'ALTER TABLE "{dataset.table}_away" RENAME TO "{dataset.table}"')


def test_closed_sidebar_sections_draw_nothing_until_opened(store_path: Path) -> None:
    """A target move reruns the page: the KPI forms, the per-category targets and the share
    panel are drawn only while their section is open, and open without a warning."""
    at = start(store_path)
    shown = {w.key for w in [*at.text_input, *at.slider, *at.button]}
    assert "slider::Revenue" in shown  # the headline target is always there
    assert not shown & {"new_name", "slider::Revenue@West", "save_view"}
    assert not [k for k in shown if str(k).startswith("edit_")]  # the edit form is closed too
    open_sections(at, "open_add_kpi", "open_category_targets", "open_share")
    shown = {w.key for w in [*at.text_input, *at.slider, *at.button]}
    assert {"new_name", "slider::Revenue@West", "slider::Revenue@North", "save_view"} <= shown
    assert not at.warning
    at.session_state["open_category_targets"] = False
    rerun(at)
    assert "slider::Revenue@West" not in {s.key for s in at.slider}
