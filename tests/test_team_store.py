"""The team store on a real PostgreSQL server: a store opened on an empty disk has every
dataset (its rows too), version, KPI set, view, note and history line back; two app
processes see each other's saves; the schema is versioned; an unreachable database says so
without its password; `store copy` moves an embedded store into PostgreSQL."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from kpi_logic import versions, workspace
from kpi_logic.errors import StoreError
from kpi_logic.sql import quote_ident
from kpi_logic.store import SCHEMA_VERSION, Store, upload_dir_for

CSV = (
    "Order;Day;Region;Amount\n"
    + "".join(
        f"o{i};{1 + i % 28:02d}.{1 + i % 12:02d}.2024;{'West' if i % 3 else 'East'};{i},5\n"
        for i in range(300)
    )
    + "o999;31.02.2024;West;oops\n"
)


def open_store(folder: Path, url: str) -> Store:
    path = folder / "store" / "kpi_store.duckdb"
    return Store(path, url=url, allowed_dirs=[upload_dir_for(path)])


def expected_frame() -> pd.DataFrame:
    rows = [line.split(";") for line in CSV.strip().splitlines()[1:-1]]
    frame = pd.DataFrame(rows, columns=["Order", "Day", "Region", "Amount"])
    frame["Amount"] = frame["Amount"].str.replace(",", ".").astype(float)
    return frame


def test_a_store_opened_on_an_empty_disk_has_everything_back(
    tmp_path: Path, postgres_url: str
) -> None:
    first = tmp_path / "first"
    store = open_store(first, postgres_url)
    uploads = upload_dir_for(store.path)
    cur = store.cursor()
    path = workspace.save_upload(uploads, "orders.csv", io.BytesIO(CSV.encode()))
    dataset, result = workspace.add_dataset(store, cur, path, "Orders", uploads, author="ann")
    assert len(result.rejects) >= 1
    kpi_set = store.save_kpi_set(cur, dataset.id, "Sales", "kpis: []\n", "ann")
    store.update_kpi_set(cur, kpi_set, "kpis: []\n# v1\n", "bob", "raise target")
    note = store.add_note(cur, kpi_set, "Revenue", "ann", "West is slow")
    view = store.save_view(cur, "West", {"ds": dataset.id, "kpi": "Revenue"})
    newer = CSV.replace(";West;", ";North;")
    new_path = workspace.save_upload(uploads, "orders.csv", io.BytesIO(newer.encode()))
    staged = workspace.stage(store, cur, new_path, uploads)
    second = versions.replace(store, cur, dataset, staged, uploads, "cy")
    store.close()
    shutil.rmtree(first)  # the container's disk is gone

    again = open_store(tmp_path / "fresh", postgres_url)
    try:
        cur = again.cursor()
        assert not [
            r
            for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            if r[0].startswith("ds_")
        ]
        (listed,) = again.list_datasets(cur)
        assert (listed.id, listed.name, listed.version) == (dataset.id, "Orders", 2)
        shown = again.get_dataset(cur, dataset.id)  # made again from the team store
        expected = expected_frame()
        got = cur.execute(
            f"SELECT Region, sum(Amount) FROM {quote_ident(shown.table)} GROUP BY 1 ORDER BY 1"
        ).fetchall()
        north = expected.assign(Region=expected["Region"].replace("West", "North"))
        want = north.groupby("Region")["Amount"].sum()
        assert [r[0] for r in got] == list(want.index)
        assert [r[1] for r in got] == pytest.approx(list(want))
        assert shown.content_hash == second.content_hash
        old = again.get_dataset(cur, dataset.id, 1)
        total = cur.execute(f"SELECT sum(Amount) FROM {quote_ident(old.table)}").fetchone()[0]
        assert total == pytest.approx(expected["Amount"].sum())
        assert "oops" in set(workspace.rejects(cur, old)["value"])
        assert [v.author for v in again.list_versions(cur, dataset.id)] == ["cy", "ann"]
        assert [e.summary[:10] for e in again.dataset_history(cur, dataset.id)] == [
            "Version 2:",
            "Version 1:",
        ]
        assert again.get_kpi_set(cur, kpi_set).version == 1
        assert [h.summary for h in again.history(cur, kpi_set)] == ["raise target"]
        assert [n.id for n in again.notes(cur, kpi_set)] == [note]
        assert again.get_view(cur, view).state == {"ds": dataset.id, "kpi": "Revenue"}
    finally:
        again.close()


def test_two_app_processes_see_each_others_saves(tmp_path: Path, postgres_url: str) -> None:
    one, two = (
        open_store(tmp_path / "one", postgres_url),
        open_store(tmp_path / "two", postgres_url),
    )
    try:
        assert one.list_views(one.cursor()) == []
        assert two.list_datasets(two.cursor()) == []
        view = one.save_view(one.cursor(), "Shared", {"kpi": "Sales"})
        assert [v.id for v in two.list_views(two.cursor())] == [view]
        uploads = upload_dir_for(one.path)
        path = workspace.save_upload(uploads, "o.csv", io.BytesIO(b"A,B\n1,x\n2,y\n"))
        dataset, _ = workspace.add_dataset(one, one.cursor(), path, "O", uploads)
        cur = two.cursor()
        assert [d.id for d in two.list_datasets(cur)] == [dataset.id]
        table = two.get_dataset(cur, dataset.id).table
        assert cur.execute(f"SELECT sum(A) FROM {quote_ident(table)}").fetchone() == (3,)
    finally:
        one.close()
        two.close()


def test_the_schema_is_versioned_and_a_newer_one_refused(tmp_path: Path, postgres_url: str) -> None:
    with open_store(tmp_path, postgres_url) as store:
        assert store.schema_version(store.cursor()) == SCHEMA_VERSION
    with psycopg.connect(postgres_url, autocommit=True) as con:
        tables = {r[0] for r in con.execute("SELECT tablename FROM pg_tables").fetchall()}
        assert {"datasets", "dataset_versions", "dataset_data", "schema_version"} <= tables
        con.execute("UPDATE schema_version SET version = %s", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer version"):
        open_store(tmp_path / "again", postgres_url)


def test_an_unreachable_team_store_says_so_without_its_password(
    tmp_path: Path, postgres_url: str
) -> None:
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    url = f"postgresql://kpi:s3cret-pass@127.0.0.1:{port + 1 if port < 65535 else 1}/none"
    with pytest.raises(StoreError, match="cannot be reached") as caught:
        open_store(tmp_path, url)
    assert "s3cret-pass" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_the_app_on_a_team_store_from_secrets_survives_an_empty_disk(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_app import SAMPLE_CSV, chart_data, rerun, table_with

    monkeypatch.delenv("KPI_STORE", raising=False)
    secrets = {"connections": {"kpi_store": {"url": postgres_url}}}
    at = app_with_secrets(tmp_path / "first", secrets, monkeypatch)
    at.switch_page("pages/review.py")
    rerun(at)
    at.text_area[0].input("Written before the restart")
    [b for b in at.button if b.label == "Add note"][0].click()
    rerun(at)
    shutil.rmtree(tmp_path / "first")

    again = app_with_secrets(tmp_path / "second", secrets, monkeypatch)
    assert not (tmp_path / "first").exists()
    assert len(again.metric) == 10
    sample = pd.read_csv(SAMPLE_CSV, parse_dates=["Date"])
    monthly = sample.groupby(sample["Date"].dt.to_period("M").dt.start_time)["Revenue"].sum()
    trend = chart_data(again, "Trend")
    trend = trend[trend["actual"].notna()].drop_duplicates("period").sort_values("period")
    assert trend["actual"].to_numpy() == pytest.approx(monthly.to_numpy(), rel=1e-9)
    again.switch_page("pages/review.py")
    rerun(again)
    assert table_with(again, "Note").iloc[0]["Note"] == "Written before the restart"


def app_with_secrets(folder: Path, secrets: dict, monkeypatch: pytest.MonkeyPatch):
    """A fresh AppTest session with its data folder at ``folder`` and these secrets."""
    from streamlit.testing.v1 import AppTest

    from tests.test_app import ROOT, TIMEOUT

    monkeypatch.setenv("KPI_DATA_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in secrets.items():
        at.secrets[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_store_copy_moves_an_embedded_store_into_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    from tests.test_cli import one_line_error, run

    path = tmp_path / "old" / "kpi_store.duckdb"
    uploads = upload_dir_for(path)
    with Store(path, allowed_dirs=[uploads]) as old:
        cur = old.cursor()
        upload = workspace.save_upload(uploads, "orders.csv", io.BytesIO(CSV.encode()))
        dataset, _ = workspace.add_dataset(old, cur, upload, "Orders", uploads, author="ann")
        newer = workspace.save_upload(uploads, "o.csv", io.BytesIO(CSV.encode()[:2000]))
        versions.replace(
            old, cur, dataset, workspace.stage(old, cur, newer, uploads), uploads, "bo"
        )
        kpi_set = old.save_kpi_set(cur, dataset.id, "Sales", "kpis: []\n", "ann")
        old.update_kpi_set(cur, kpi_set, "kpis: []\n# v1\n", "bob", "edit")
        note = old.add_note(cur, kpi_set, "Revenue", "ann", "why")
        view = old.save_view(cur, "West", {"ds": dataset.id})
        v1 = old.get_dataset(cur, dataset.id, 1)
        before = {
            v: cur.execute(f"SELECT * FROM {quote_ident(t)} ORDER BY ALL").fetchall()
            for v, t in ((1, v1.table), (2, old.get_dataset(cur, dataset.id).table))
        }

    done = run("store", "copy", "--from", path, "--to", postgres_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Copied 1 datasets (2 versions), 1 KPI sets, 1 saved views")
    assert "kpi@" not in done.stdout  # the URL's user is not echoed

    with open_store(tmp_path / "cloud", postgres_url) as team:
        cur = team.cursor()
        for version, rows in before.items():
            table = team.get_dataset(cur, dataset.id, version).table
            got = cur.execute(f"SELECT * FROM {quote_ident(table)} ORDER BY ALL").fetchall()
            assert got == rows
        assert [h.summary for h in team.history(cur, kpi_set)] == ["edit"]
        assert [n.id for n in team.notes(cur, kpi_set)] == [note]
        assert team.get_view(cur, view).state == {"ds": dataset.id}
        assert [e.author for e in team.dataset_history(cur, dataset.id)] == ["bo", "ann"]
        # the copy took the saved order: the next save comes after them
        later = team.save_view(cur, "Later", {})
        assert [v.id for v in team.list_views(cur)] == [later, view]

    again = run("store", "copy", "--from", path, "--to", postgres_url)
    assert "already holds data" in one_line_error(again)
    assert "not a postgresql" not in one_line_error(
        run("store", "copy", "--from", path, "--to", "x")
    )


def test_reads_go_on_after_the_server_closed_idle_connections(
    tmp_path: Path, postgres_url: str
) -> None:
    with open_store(tmp_path, postgres_url) as store:
        cur = store.cursor()
        view = store.save_view(cur, "Kept", {})
        assert [v.id for v in store.list_views(cur)] == [view]  # a connection waits in the pool
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            closed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert closed[0] >= 1
        assert [v.id for v in store.list_views(cur)] == [view]


def test_deletion_impact_on_the_team_store_counts_its_tables(
    tmp_path: Path, postgres_url: str
) -> None:
    store = open_store(tmp_path, postgres_url)
    uploads = upload_dir_for(store.path)
    cur = store.cursor()
    path = workspace.save_upload(uploads, "orders.csv", io.BytesIO(CSV.encode()))
    dataset, _ = workspace.add_dataset(store, cur, path, "Orders", uploads, author="ann")
    first = store.save_kpi_set(cur, dataset.id, "Sales", "kpis: []\n", "ann")
    store.save_kpi_set(cur, dataset.id, "Ops", "kpis: []\n", "ann")
    store.update_kpi_set(cur, first, "kpis: []\n# v1\n", "bob", "raise target")
    for text in ("one", "two"):
        store.add_note(cur, first, "Revenue", "ann", text)
    store.save_view(cur, "West", {"ds": dataset.id})
    store.save_view(cur, "Other", {"ds": "x" * 22})
    with psycopg.connect(postgres_url) as con:  # counted straight from the database
        sets = "SELECT id FROM kpi_sets WHERE dataset_id = %s"
        notes = con.execute(
            f"SELECT count(*) FROM notes WHERE kpi_set_id IN ({sets})", [dataset.id]
        ).fetchone()[0]
        history = con.execute(
            f"SELECT count(*) FROM history WHERE kpi_set_id IN ({sets})", [dataset.id]
        ).fetchone()[0]
        names = sorted(
            r[0]
            for r in con.execute("SELECT name FROM kpi_sets WHERE dataset_id = %s", [dataset.id])
        )
        versions_count = con.execute(
            "SELECT count(*) FROM dataset_versions WHERE dataset_id = %s", [dataset.id]
        ).fetchone()[0]
    impact = store.deletion_impact(cur, dataset.id)
    assert sorted(impact.kpi_sets) == names == ["Ops", "Sales"]
    assert (impact.notes, impact.history, impact.versions) == (notes, history, versions_count)
    assert (notes, history, versions_count) == (2, 1, 1)
    assert impact.views == ("West",)
    store.close()
