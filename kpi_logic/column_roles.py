"""Column roles of a table, decided from names and values together: the date column, the
category column, id-like and ratio columns, and which measure each number column is.

- a ratio column (a name with rate, ratio, %, per, price, score..., or values within -1..1
  that are not whole, like 0.16 read from "16%") is never summed;
- an id-like column (a name ending in ID, No, Number, Code, or text with many values naming
  an order, customer, ticket, employee or lead, or whole numbers unique per row) is counted
  distinct, never summed;
- measures get roles by name, an exact name beating a longer one ("Profit" over "Profit
  Ratio"); each column serves one role;
- the date column is the one the rows spread over: fewest empty cells, then order or created
  dates over ship, due or closing dates, then the most distinct values;
- the category column has 2 to 30 values and splits the main measure usefully (no value
  holds over 80% of it): geography first, then segment, channel, product category or team.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from kpi_logic import compute
from kpi_logic.ingest_types import logical_type
from kpi_logic.sql import quote_ident

MAX_CATEGORIES = 30  # a "by" column with more distinct values makes an unreadable chart
MAX_TOP_SHARE = 0.8  # a category whose top value holds more of the main measure splits nothing
_NUMBERS = ("number", "integer")
_DATES = ("date", "datetime")
_ID_WORDS = {"id", "no", "nr", "number", "num", "code", "key", "ref", "reference", "sku", "uuid"}
_ID_WORDS |= {"guid", "zip", "postcode"}
_RATIO_WORDS = {"ratio", "rate", "pct", "percent", "percentage", "share", "per", "avg", "average"}
_RATIO_WORDS |= {"mean", "price", "score", "rating", "index", "age"}
_ENTITIES = {
    "order": ("order", "invoice", "transaction", "receipt", "basket"),
    "customer": ("customer", "client", "account", "buyer", "member"),
    "ticket": ("ticket", "case", "incident", "request"),
    "employee": ("employee", "staff", "worker", "emp"),
    "lead": ("lead", "prospect"),
}
_EARLY_DATES = {"order", "created", "create", "open", "opened", "invoice", "transaction", "sale"}
_EARLY_DATES |= {"booking", "start", "report", "submitted", "placed", "day", "month", "week"}
_LATE_DATES = {"ship", "shipped", "shipping", "due", "resolved", "closed", "close", "end"}
_LATE_DATES |= {"delivery", "delivered", "termination", "exit", "modified", "updated", "paid"}
_CATEGORY_RANKS = (
    ("region", "country", "state", "city", "market", "territory", "area", "zone", "location"),
    ("segment",),
    ("channel", "source", "medium"),
    ("category", "product line", "department", "team", "priority", "campaign", "division"),
)
# role, which columns it takes ("additive", "ratio" or "any" number column), name keywords
ROLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("revenue", "additive", ("revenue", "sales", "net sales", "turnover", "income", "amount")),
    ("profit", "additive", ("profit", "net profit", "gross profit", "margin", "earnings")),
    ("margin", "ratio", ("margin", "profit margin", "profit ratio", "profit")),
    ("cost", "additive", ("cost", "costs", "cogs", "expense")),
    ("quantity", "additive", ("quantity", "qty", "units", "units sold", "items")),
    ("discount", "any", ("discount",)),
    ("orders", "additive", ("orders", "number of orders", "order count")),
    ("new_customers", "additive", ("new customers", "acquired", "signups")),
    ("leads", "additive", ("leads",)),
    ("conversions", "additive", ("conversions", "converted", "deals won", "won")),
    ("conversion_rate", "ratio", ("conversion rate", "conversion")),
    ("clicks", "additive", ("clicks",)),
    ("impressions", "additive", ("impressions",)),
    ("spend", "additive", ("spend", "ad spend", "marketing spend", "marketing cost")),
    ("headcount", "additive", ("headcount", "employees", "fte", "staff")),
    ("hires", "additive", ("hires", "new hires")),
    ("leavers", "additive", ("leavers", "terminations", "attrition", "resignations", "exits")),
    ("defects", "additive", ("defects", "defective", "rejects", "faulty")),
    ("inspected", "additive", ("inspected", "units inspected", "produced", "units produced")),
    ("on_time", "additive", ("on time", "ontime", "on time deliveries", "delivered on time")),
    ("deliveries", "additive", ("deliveries", "shipments")),
    ("tickets", "additive", ("tickets", "support tickets")),
    ("resolution", "any", ("resolution time", "resolution hours", "time to resolve", "resolution")),
    ("satisfaction", "any", ("satisfaction", "customer satisfaction", "csat", "nps", "rating")),
)


@dataclass(frozen=True)
class ColumnFacts:
    """What one profiling scan says of a column."""

    kind: str  # logical type (ingest_types.LOGICAL_TYPES)
    filled: int  # non-empty cells
    distinct: int  # approximate distinct values
    low: float | None = None  # numbers: smallest and largest value
    high: float | None = None
    within_one: float = 0.0  # numbers: share of values within -1..1
    whole: bool = True  # numbers: every value a whole number
    days: int = 0  # dates: days between the first and the last


@dataclass(frozen=True)
class Roles:
    """What each column is for (see the module doc)."""

    rows: int
    kinds: dict[str, str]  # column -> logical type
    time: str | None
    grain: str
    by: str | None
    measures: dict[str, str]  # role -> column
    ratios: tuple[str, ...]  # number columns never summed
    ids: dict[str, str]  # entity ("order", "customer", ...) -> column counted distinct
    id_like: tuple[str, ...]  # every id-like column
    flags: tuple[str, ...]  # 0/1 or true/false columns: their average is a rate
    open_until: str | None  # a closing date left empty while a row is open


def table_roles(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, str] | None = None
) -> Roles:
    """The roles of ``table``'s columns (see the module doc)."""
    columns = columns if columns is not None else compute.table_columns(con, table)
    rows, facts = profile(con, table, columns)
    id_like = [c for c, f in facts.items() if _is_id(c, f)]
    ratios = [c for c, f in facts.items() if c not in id_like and _is_ratio(c, f)]
    flags = [
        c
        for c, f in facts.items()
        if c not in id_like
        and (f.kind == "boolean" or (f.kind == "integer" and f.low == 0 and f.high == 1))
    ]
    measures = _measure_roles(facts, id_like, ratios)
    time = _time_column(facts, rows)
    main = measures.get("revenue") or next(iter(measures.values()), None)
    return Roles(
        rows=rows,
        kinds={c: f.kind for c, f in facts.items()},
        time=time,
        grain=_grain(facts[time].days) if time else "month",
        by=category_column(con, table, facts, id_like, main),
        measures=measures,
        ratios=tuple(ratios),
        ids=_entity_ids(facts, id_like),
        id_like=tuple(id_like),
        flags=tuple(flags),
        open_until=_open_until(facts, time, rows),
    )


def profile(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, str]
) -> tuple[int, dict[str, ColumnFacts]]:
    """The row count and each column's facts, in one scan."""
    kinds = {c: logical_type(t) for c, t in columns.items()}
    parts = ["count(*)"]
    for column, kind in kinds.items():
        q = quote_ident(column)
        parts += [f"count({q})", f"approx_count_distinct({q})"]
        if kind in _NUMBERS:
            parts += [
                f"min({q})::DOUBLE",
                f"max({q})::DOUBLE",
                f"coalesce(avg(CASE WHEN abs({q}) <= 1 THEN 1.0 ELSE 0.0 END), 0)",
                f"coalesce(bool_and({q}::DOUBLE = trunc({q}::DOUBLE)), true)",
            ]
        elif kind in _DATES:
            parts.append(f"coalesce(date_diff('day', min({q})::DATE, max({q})::DATE), 0)")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {quote_ident(table)}").fetchone()
    assert row is not None  # an aggregate without GROUP BY returns exactly one row
    values = iter(row)
    rows = int(next(values))
    facts = {}
    for column, kind in kinds.items():
        filled, distinct = int(next(values)), int(next(values))
        if kind in _NUMBERS:
            low, high, within, whole = (next(values) for _ in range(4))
            facts[column] = ColumnFacts(kind, filled, distinct, low, high, within, whole)
        elif kind in _DATES:
            facts[column] = ColumnFacts(kind, filled, distinct, days=int(next(values)))
        else:
            facts[column] = ColumnFacts(kind, filled, distinct)
    return rows, facts


def category_column(
    con: duckdb.DuckDBPyConnection,
    table: str,
    facts: Mapping[str, ColumnFacts],
    id_like: Sequence[str] = (),
    main: str | None = None,
) -> str | None:
    """A text column with 2 to ``MAX_CATEGORIES`` values whose top value holds at most
    ``MAX_TOP_SHARE`` of the main measure (of the rows without one); by the kind of name
    (geography, segment, channel, product category or team, others), then fewest values."""
    texts = [
        c
        for c, f in facts.items()
        if f.kind == "text" and c not in id_like and 2 <= f.distinct <= MAX_CATEGORIES
    ]
    if not texts:
        return None
    weight = f"abs(CAST({quote_ident(main)} AS DOUBLE))" if main else "1"
    shares = ", ".join(
        f"(SELECT max(s) / nullif(sum(s), 0) FROM (SELECT sum({weight}) AS s "
        f"FROM {quote_ident(table)} GROUP BY {quote_ident(c)}))"
        for c in texts
    )
    top = con.execute(f"SELECT {shares}").fetchone()
    assert top is not None
    useful = [
        c
        for c, share in zip(texts, top, strict=True)
        if share is not None and share <= MAX_TOP_SHARE
    ]
    return min(useful, key=lambda c: (_category_rank(c), facts[c].distinct), default=None)


def _tokens(text: str) -> tuple[str, ...]:
    """Lower-cased words of a name, camelCase split, plurals made singular."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower())
    return tuple(
        w[:-3] + "y" if len(w) > 3 and w.endswith("ies")
        else w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss")
        else w
        for w in words
    )  # fmt: skip


def _match(name: str, keyword: str) -> int:
    """3 when ``name`` is ``keyword``, 2 when it holds its words, 1 when it holds its letters
    (5 or more), else 0."""
    tokens, words = _tokens(name), _tokens(keyword)
    if tokens == words:
        return 3
    n = len(words)
    if any(tokens[i : i + n] == words for i in range(len(tokens) - n + 1)):
        return 2
    joined = "".join(words)
    return 1 if len(joined) >= 5 and joined in "".join(tokens) else 0


def _entity(column: str) -> str | None:
    tokens = set(_tokens(column))
    return next((e for e, words in _ENTITIES.items() if tokens & set(words)), None)


def _is_id(column: str, facts: ColumnFacts) -> bool:
    """Named like an id, text with many values naming an entity or unique per row, or whole
    numbers unique per row numbered densely (a row number)."""
    if facts.kind not in ("text", "integer"):
        return False
    tokens = _tokens(column)
    if "#" in column or (tokens and (tokens[-1] in _ID_WORDS or tokens[0] == "id")):
        return True
    if facts.distinct <= MAX_CATEGORIES:
        return False
    if facts.kind == "text":
        return facts.distinct >= 0.9 * facts.filled or _entity(column) is not None
    span = (facts.high or 0) - (facts.low or 0)
    return facts.distinct >= 0.95 * facts.filled and span < 2 * facts.filled


def _is_ratio(column: str, facts: ColumnFacts) -> bool:
    """A number column that is a percentage, rate, price or score, by name or by values."""
    if facts.kind not in _NUMBERS:
        return False
    if "%" in column or set(_tokens(column)) & _RATIO_WORDS:
        return True
    return facts.within_one >= 0.95 and not facts.whole and facts.distinct > 2


def _measure_roles(
    facts: Mapping[str, ColumnFacts], id_like: Sequence[str], ratios: Sequence[str]
) -> dict[str, str]:
    """Role -> column, best match first: exact names, then fewer extra words, then ROLES order."""
    numbers = [c for c, f in facts.items() if f.kind in (*_NUMBERS, "boolean") and c not in id_like]
    ranked = []
    for order, (role, takes, keywords) in enumerate(ROLES):
        for column in numbers:
            if (takes == "additive" and column in ratios) or (
                takes == "ratio" and column not in ratios
            ):
                continue
            score, extra = max(
                (_match(column, k), -abs(len(_tokens(column)) - len(_tokens(k)))) for k in keywords
            )
            if score:
                ranked.append((-score, -extra, order, column, role))
    roles: dict[str, str] = {}
    for *_, column, role in sorted(ranked):
        if role not in roles and column not in roles.values():
            roles[role] = column
    return roles


def _entity_ids(facts: Mapping[str, ColumnFacts], id_like: Sequence[str]) -> dict[str, str]:
    """Entity -> its id column: one named like an id first, then the most values."""
    found: dict[str, str] = {}
    for column in sorted(id_like, key=lambda c: (_tokens(c)[-1:] != ("id",), -facts[c].distinct)):
        entity = _entity(column)
        if entity is not None:
            found.setdefault(entity, column)
    return found


def _date_preference(column: str) -> int:
    tokens = set(_tokens(column))
    return len(tokens & _EARLY_DATES) - len(tokens & _LATE_DATES)


def _time_column(facts: Mapping[str, ColumnFacts], rows: int) -> str | None:
    """The date column the rows spread over (see the module doc)."""
    dates = [c for c, f in facts.items() if f.kind in _DATES and f.filled]
    return max(
        dates,
        key=lambda c: (round(facts[c].filled / rows, 2), _date_preference(c), facts[c].distinct),
        default=None,
    )


def _open_until(facts: Mapping[str, ColumnFacts], time: str | None, rows: int) -> str | None:
    """A closing or resolution date that some rows leave empty (they are still open)."""
    return next(
        (
            c
            for c, f in facts.items()
            if f.kind in _DATES
            and c != time
            and 0 < f.filled < rows
            and set(_tokens(c)) & {"resolved", "closed", "close", "completed", "done"}
        ),
        None,
    )


def _grain(days: int) -> str:
    """Months over four months or more of dates, weeks over four weeks, else days."""
    return "month" if days >= 120 else "week" if days >= 28 else "day"


def _category_rank(column: str) -> int:
    for rank, words in enumerate(_CATEGORY_RANKS):
        if any(_match(column, w) >= 2 for w in words):
            return rank
    return len(_CATEGORY_RANKS)


@dataclass(frozen=True)
class BuilderDefaults:
    """What a new KPI's form starts with, from the data (see :func:`builder_defaults`)."""

    column: str | None  # the first number column that is not an identifier
    ratio: bool  # ``column`` is a rate, price or score: averaged, never summed
    time: str | None
    by: str | None
    filter_example: str  # a filter over a column the table has


def is_identifier(column: str, facts: ColumnFacts) -> bool:
    """An id-like column (``Row ID``, ``Order ID``, ``Postal Code``, a row number...): named
    like an id whatever its type, or with id-like values (see the module doc)."""
    tokens = _tokens(column)
    named = "#" in column or (tokens and (tokens[-1] in _ID_WORDS or tokens[0] == "id"))
    return bool(named) or _is_id(column, facts)


def builder_defaults(
    con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, str]
) -> BuilderDefaults:
    """The KPI form's starting point: the first number column that is not an identifier
    (averaged when it is a ratio), the date column the rows spread over (else the first
    date column), a category column with 2 to ``MAX_CATEGORIES`` values (one that splits
    the measure usefully first) and a filter example naming one of the table's columns and,
    when there is one, a value it holds."""
    rows, facts = profile(con, table, columns)
    ids = [c for c, f in facts.items() if is_identifier(c, f)]
    numbers = [c for c, f in facts.items() if f.kind in _NUMBERS and c not in ids]
    column = numbers[0] if numbers else None
    dates = [c for c, f in facts.items() if f.kind in _DATES]
    time = (_time_column(facts, rows) if rows else None) or next(iter(dates), None)
    texts = [
        c
        for c, f in facts.items()
        if f.kind == "text" and c not in ids and 2 <= f.distinct <= MAX_CATEGORIES
    ]
    by = (category_column(con, table, facts, ids, column) if rows else None) or next(
        iter(texts), None
    )
    return BuilderDefaults(
        column=column,
        ratio=column is not None and _is_ratio(column, facts[column]),
        time=time,
        by=by,
        filter_example=_filter_example(con, table, by, column, next(iter(facts), None)),
    )


def _filter_example(
    con: duckdb.DuckDBPyConnection,
    table: str,
    by: str | None,
    number: str | None,
    first: str | None,
) -> str:
    """``"Region" <> 'North'`` with a value the category column holds, else a test on a
    column the table has (``"Amount" > 0``), else nothing."""
    if by is not None:
        found = con.execute(f"SELECT min({quote_ident(by)}) FROM {quote_ident(table)}").fetchone()
        value = found[0] if found else None
        if isinstance(value, str) and 0 < len(value) <= 40 and value.isprintable():
            return f"{quote_ident(by)} <> '{value.replace(chr(39), chr(39) * 2)}'"
        return f"{quote_ident(by)} is not null"
    if number is not None:
        return f"{quote_ident(number)} > 0"
    return "" if first is None else f"{quote_ident(first)} is not null"
