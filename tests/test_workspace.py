"""Datasets as the app handles them: upload to disk, load, retype, cancel, delete; a real store."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from kpi_logic import workspace
from kpi_logic.errors import IngestError
from kpi_logic.sql import quote_ident
from kpi_logic.store import Store


class Cancelled(BaseException):
    """What Streamlit raises inside a progress callback when the user stops a run."""


@pytest.fixture
def setup(tmp_path: Path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    store = Store(tmp_path / "store.duckdb", allowed_dirs=[uploads])
    yield store, store.cursor(), uploads
    store.close()


def tables(cur) -> set[str]:
    return {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def test_upload_load_retype_and_delete(setup) -> None:
    store, cur, uploads = setup
    lines = [f"{7 + i},{1.5 + i},2024-01-{1 + i:02d}" for i in range(28)] + ["99,oops,2024-02-01"]
    content = ("Code,Amount,When\n" + "\n".join(lines) + "\n").encode()
    expected_sum = sum(1.5 + i for i in range(28))
    path = workspace.save_upload(uploads, "../../evil name?.csv", io.BytesIO(content))
    assert path.parent.parent == uploads
    assert path.read_bytes() == content
    dataset, result = workspace.add_dataset(store, cur, path, "Codes", uploads)
    assert (dataset.rows, result.rows) == (29, 29)
    frame = cur.execute(f"SELECT * FROM {quote_ident(dataset.table)} ORDER BY 1").df()
    assert frame["Amount"].sum() == pytest.approx(expected_sum)  # "oops" rejected, not summed
    assert "oops" in set(workspace.rejects(cur, dataset)["value"])

    workspace.retype(store, cur, dataset, uploads, {"Code": "text"})
    after = store.get_dataset(cur, dataset.id)
    assert after.content_hash != dataset.content_hash  # caches keyed on it are invalidated
    codes = cur.execute(f"SELECT Code FROM {quote_ident(dataset.table)}").fetchall()
    assert sorted(c for (c,) in codes) == sorted(str(7 + i) for i in range(28)) + ["99"]
    assert workspace.type_overrides(uploads, after) == {"Code": "text"}
    workspace.retype(store, cur, after, uploads, {"Amount": "text"})  # overrides add up
    assert workspace.type_overrides(uploads, after) == {"Code": "text", "Amount": "text"}

    workspace.delete_dataset(store, cur, after.id, uploads)
    assert store.list_datasets(cur) == []
    assert not any(t.startswith(dataset.table) for t in tables(cur))
    assert not path.exists()
    assert not list(uploads.iterdir())


def test_a_cancelled_load_leaves_nothing_behind(setup) -> None:
    store, cur, uploads = setup
    rows = "\n".join(f"2024-01-{1 + i % 28:02d},{i}" for i in range(5_000))
    path = workspace.save_upload(uploads, "big.csv", io.BytesIO(f"Day,N\n{rows}\n".encode()))
    before = tables(cur)

    def stop_late(fraction: float, message: str) -> None:
        if fraction >= 0.85:  # after the table was written
            raise Cancelled

    with pytest.raises(Cancelled):
        workspace.add_dataset(store, cur, path, "Big", uploads, progress=stop_late)
    assert tables(cur) == before
    assert store.list_datasets(cur) == []


def test_a_failed_retype_keeps_the_dataset(setup) -> None:
    store, cur, uploads = setup
    path = workspace.save_upload(uploads, "a.csv", io.BytesIO(b"A,B\n1,x\n2,y\n"))
    dataset, _ = workspace.add_dataset(store, cur, path, "A", uploads)
    path.unlink()
    with pytest.raises(IngestError, match="no longer"):
        workspace.retype(store, cur, dataset, uploads, {"A": "text"})
    kept = cur.execute(f"SELECT sum(A) FROM {quote_ident(dataset.table)}").fetchone()[0]
    assert kept == 3


def test_the_sample_is_loaded_once(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent / "data"
    uploads = tmp_path / "uploads"
    store = Store(tmp_path / "s.duckdb", allowed_dirs=[uploads, root])
    try:
        workspace.ensure_sample(
            store, root / "sample_sales.csv", root / "sample_kpis.yaml", uploads
        )
        workspace.ensure_sample(
            store, root / "sample_sales.csv", root / "sample_kpis.yaml", uploads
        )
        cur = store.cursor()
        (dataset,) = store.list_datasets(cur)
        assert dataset.rows == len(pd.read_csv(root / "sample_sales.csv"))
        assert len(store.list_kpi_sets(cur, dataset.id)) == 1
    finally:
        store.close()
