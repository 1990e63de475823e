"""The table: one ``CREATE TABLE ... AS SELECT`` converts the whole source in a single scan
into a temporary name, rejected cells and rows are counted and listed, and the result replaces
``table`` only when everything worked (or, for a view, ``view`` makes it)."""

from __future__ import annotations

import uuid
from contextlib import suppress

import duckdb

from kpi_logic.errors import IngestError
from kpi_logic.ingest.plan import (
    ColumnPlan,
    column_types,
    plan_columns,
    sample_text_columns,
    text_columns,
)
from kpi_logic.ingest.result import LoadResult
from kpi_logic.ingest.source import (
    HELPER,
    NotUtf8,
    Progress,
    Source,
    ViewRefused,
    fetch_all,
    first_line,
    params_in,
    read_failure,
)
from kpi_logic.ingest.text import MAX_LINE_BYTES
from kpi_logic.ingest.view import drop_relation, try_view
from kpi_logic.ingest_types import Params, is_missing, missing_sql
from kpi_logic.sql import quote_ident

MAX_REJECTS_LISTED = 1_000
_LONG_LINE = f"line over {MAX_LINE_BYTES:,} bytes"
_REJECTS = HELPER + "_rejects"


def build(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    table: str,
    overrides: dict[str, str],
    report: Progress,
    materialize: bool = True,
) -> LoadResult:
    """Sample, decide types, convert in one CREATE TABLE AS, collect rejects, swap in (or,
    with ``materialize=False``, make ``table`` a view of the typed SELECT, unless the file has
    rows the view's strict read refuses: then it is a table after all, with those rows listed)."""
    known = {name for _, name, _ in source.columns}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise IngestError(f"Type override for unknown column {unknown[0]!r}.")
    params = Params()
    params.values.update(source.params)
    tmp = f"__kpi_ingest_{uuid.uuid4().hex[:12]}"
    try:
        report(0.15, "Detecting column types")
        types = column_types(con, source)
        sample = sample_text_columns(con, source, text_columns(source, types, overrides))
        plans = plan_columns(source, types, sample.values, overrides, params)
        if not materialize and sample.rows_fit:
            view = try_view(con, source, table, plans, params)
            if view is not None:
                report(1.0, "Ready (a view over the file)")
                return view
        if source.csv is not None and source.csv.width_from_head:
            raise ViewRefused
        report(0.3, "Converting")
        create_table(con, source, tmp, plans, params)
        report(0.85, "Checking rejected values")
        skipped, row_rejects = _csv_rejects(con, source)
        result = _finish(con, tmp, plans, skipped, row_rejects)
        con.execute("BEGIN TRANSACTION")
        drop_relation(con, table)
        con.execute(f"ALTER TABLE {quote_ident(tmp)} RENAME TO {quote_ident(table)}")
        con.execute("COMMIT")
    except BaseException as err:
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        with suppress(duckdb.Error):
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(tmp)}")
        if isinstance(err, duckdb.Error):
            failure = read_failure(err) if source.csv is not None else None
            message = "The file could not be loaded: " + first_line(err)
            raise failure or IngestError(message) from err
        raise
    finally:
        if source.csv is not None:
            for name in (source.csv.rejects_table, source.csv.rejects_table + "_scan"):
                with suppress(duckdb.Error):
                    con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
    result.table = table
    report(1.0, f"Loaded {result.rows:,} rows")
    return result


def create_table(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    tmp: str,
    plans: list[ColumnPlan],
    params: Params,
) -> None:
    """The one scan: converted columns, plus one list column holding, on rows where some
    conversion gave NULL, the text per checked column (NULL elsewhere, so it is cheap).
    Whether that text was merely "NA" is decided later, on those few rows only.
    """
    inner = [f"{p.expr} AS {quote_ident(p.info.name)}" for p in plans]
    outer = [quote_ident(p.info.name) for p in plans]
    failed, rejected = [], []
    for i, plan in enumerate(plans):
        if plan.raw is None:
            continue
        raw = quote_ident(f"{HELPER}_raw_{i}")
        inner.append(f"{plan.raw} AS {raw}")
        failed.append(f"({quote_ident(plan.info.name)} IS NULL AND {raw} IS NOT NULL)")
        rejected.append(f"CASE WHEN {quote_ident(plan.info.name)} IS NULL THEN {raw} END")
    if failed:
        outer.append(
            f"CASE WHEN {' OR '.join(failed)} THEN [{', '.join(rejected)}]::VARCHAR[] END"
            f" AS {quote_ident(_REJECTS)}"
        )
    query = (
        f"CREATE TABLE {quote_ident(tmp)} AS SELECT {', '.join(outer)} "
        f"FROM (SELECT {', '.join(inner)} FROM {source.sql})"
    )
    try:
        con.execute(query, params_in(params.values, query))
    except duckdb.Error as err:
        failure = read_failure(err) if source.csv is not None else None
        raise failure or IngestError("The file could not be read: " + first_line(err)) from err


def _csv_rejects(con: duckdb.DuckDBPyConnection, source: Source) -> tuple[list[int], list[dict]]:
    """Rows DuckDB skipped (wrong number of fields...): their line numbers and reject rows."""
    if source.csv is None:
        return [], []
    query = (
        "SELECT line, error_type, csv_line, error_message "
        f"FROM {quote_ident(source.csv.rejects_table)} ORDER BY line"
    )
    found = fetch_all(con, query, {})
    if any(error_type in ("INVALID ENCODING", "INVALID UNICODE") for _, error_type, *_ in found):
        raise NotUtf8
    reasons = {
        "MISSING COLUMNS": "too few fields",
        "TOO MANY COLUMNS": "too many fields",
        "LINE SIZE OVER MAXIMUM": _LONG_LINE,
    }
    rejects = [
        {
            "row": int(line),
            "column": None,
            "value": (csv_line or "")[:200],
            "reason": reasons.get(error_type, error_type.lower())
            + (f" ({message.splitlines()[0]})" if message else ""),
        }
        for line, error_type, csv_line, message in found
    ]
    return sorted({int(line) for line, *_ in found}), rejects


def _finish(
    con: duckdb.DuckDBPyConnection,
    tmp: str,
    plans: list[ColumnPlan],
    skipped: list[int],
    row_rejects: list[dict],
) -> LoadResult:
    """Count and list rejects; drop the helper column, empty columns and empty rows."""
    checked = [i for i, p in enumerate(plans) if p.raw is not None]
    blank = [i for i, p in enumerate(plans) if p.blank_header]
    all_null = " AND ".join(f"{quote_ident(p.info.name)} IS NULL" for p in plans) or "false"
    stats = [
        "count(*)",
        f"count(*) FILTER (WHERE {all_null})",
        *(f"count({quote_ident(plans[i].info.name)})" for i in blank),
    ]
    counts = fetch_all(con, f"SELECT {', '.join(stats)} FROM {quote_ident(tmp)}", {})[0]
    total, empty_rows = counts[0], counts[1]
    filled = dict(zip(blank, counts[2:], strict=True))
    reject_counts = dict.fromkeys(checked, 0)
    helper, params = quote_ident(_REJECTS), Params()
    rejected = f"NOT {missing_sql('v', params)}"  # a cell that isn't blank or NA-like
    if checked:  # only rows where a conversion gave NULL hold the helper list
        query = (
            f"SELECT k, count(*) FROM (SELECT unnest({helper}) AS v,"
            f" generate_subscripts({helper}, 1) AS k FROM {quote_ident(tmp)}"
            f" WHERE {helper} IS NOT NULL) WHERE {rejected} GROUP BY k"
        )
        for k, n in fetch_all(con, query, params.values):
            reject_counts[checked[k - 1]] = n

    warnings = [f"Column {p.info.name!r}: {p.warning}." for p in plans if p.warning]
    long_lines = len({r["row"] for r in row_rejects if r["reason"].startswith(_LONG_LINE)})
    if len(skipped) > long_lines:
        warnings.append(
            f"{len(skipped) - long_lines:,} row(s) were skipped because their number of fields "
            "differs from the header."
        )
    if long_lines:
        warnings.append(
            f"{long_lines:,} row(s) were skipped because their line is longer than "
            f"{MAX_LINE_BYTES:,} bytes."
        )
    for i in checked:
        if reject_counts[i]:
            p = plans[i]
            warnings.append(
                f"{reject_counts[i]:,} value(s) in column {p.info.name!r} could not be read as "
                f"{p.info.dtype} and were left empty."
            )
    rejects = list(row_rejects)
    if any(reject_counts.values()):
        where = (f"len(list_filter({helper}, lambda v: {rejected})) > 0", params)
        rejects += _cell_rejects(con, tmp, [plans[i] for i in checked], skipped, where)

    drop = [_REJECTS] if checked else []
    drop += [plans[i].info.name for i in blank if filled[i] == 0]
    for name in drop:
        con.execute(f"ALTER TABLE {quote_ident(tmp)} DROP COLUMN {quote_ident(name)}")
    kept = [p for i, p in enumerate(plans) if filled.get(i) != 0]
    if empty_rows:
        kept_null = " AND ".join(f"{quote_ident(p.info.name)} IS NULL" for p in kept)
        con.execute(f"DELETE FROM {quote_ident(tmp)} WHERE {kept_null}")
    return LoadResult(
        table=tmp,
        rows=total - empty_rows,
        columns=[p.info for p in kept],
        reject_rows=sorted(rejects, key=lambda r: r["row"])[:MAX_REJECTS_LISTED],
        warnings=warnings,
    )


def _cell_rejects(
    con: duckdb.DuckDBPyConnection,
    tmp: str,
    checked: list[ColumnPlan],
    skipped: list[int],
    where: tuple[str, Params],
) -> list[dict]:
    """The first rejected cells with their spreadsheet row number (header = row 1).

    ``where`` is the SQL condition (and its parameters) "this row has a rejected cell".
    """
    query = (
        f"SELECT rowid, {quote_ident(_REJECTS)} FROM {quote_ident(tmp)} WHERE {where[0]} "
        f"ORDER BY rowid LIMIT {MAX_REJECTS_LISTED}"
    )
    found = []
    for rowid, values in fetch_all(con, query, where[1].values):
        row = _spreadsheet_row(rowid, skipped)
        for plan, value in zip(checked, values, strict=True):
            if value is not None and not is_missing(value):
                reason = f"not a valid {plan.info.dtype}"
                found.append(
                    {"row": row, "column": plan.info.name, "value": value, "reason": reason}
                )
    return found


def _spreadsheet_row(rowid: int, skipped: list[int]) -> int:
    """Row number as a spreadsheet shows it, counting the rows DuckDB skipped before it."""
    row = rowid + 2
    for line in skipped:
        if line <= row:
            row += 1
        else:
            break
    return row
