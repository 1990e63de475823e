"""Type detection for text columns, and the SQL that converts them.

``detect_type`` looks at a sample of a column's distinct text values (plain Python, no
DuckDB) and returns a :class:`TextType`; ``conversion_sql`` turns that decision into one
DuckDB expression over the raw text, so a whole file is converted in a single scan.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

LOGICAL_TYPES = ("number", "integer", "date", "datetime", "boolean", "text")
SQL_TYPES = {
    "number": "DOUBLE",
    "integer": "BIGINT",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "text": "VARCHAR",
}
# Cells that mean "no value" in a number, date or boolean column (compared lower-cased).
# In a text column they stay ordinary category values.
MISSING_TOKENS = ("", "na", "n/a", "n.a.", "null", "none", "nan", "-", "--", "#n/a")
TRUE_TOKENS = ("true", "yes")
FALSE_TOKENS = ("false", "no")
FORCED_TRUE_TOKENS = (*TRUE_TOKENS, "y", "t", "1")
FORCED_FALSE_TOKENS = (*FALSE_TOKENS, "n", "f", "0")

_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space
_CURRENCIES = ("$", "€", "£", "¥", "₹", "USD", "EUR", "GBP", "CHF")
_CUR = "(?:" + "|".join(re.escape(c) for c in _CURRENCIES) + ")"
_SP = f"[{_SPACES}]*"
_PLAIN_INT = re.compile(r"[-+]?\d+")
_NATIVE = {  # cells DuckDB's CSV reader parses as these types (see ``native_read``)
    "integer": re.compile(r"[-+]?[0-9]{1,18}"),
    "number": re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"),
}
_NON_DIGIT = re.compile(r"\D")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# digits grouped by threes with this separator, e.g. 1,234,567: a thousands separator or not?
_GROUPED = {sep: re.compile(rf"(?<!\d)\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+(?!\d)") for sep in ",."}


@functools.cache  # compiled on first use: a Parquet file never needs it
def _number_regex(decimal: str) -> re.Pattern[str]:
    """Full-match pattern for a formatted number whose decimal mark is ``decimal``."""
    group = "," if decimal == "." else "."
    seps = re.escape(group) + "'" + _SPACES
    dec = re.escape(decimal)
    body = rf"(?:\d{{1,3}}(?:[{seps}]\d{{3}})+|\d+)(?:{dec}\d*)?|{dec}\d+"
    inner = rf"[-+]?{_SP}{_CUR}?{_SP}[-+]?{_SP}(?:{body}){_SP}%?{_SP}{_CUR}?"
    return re.compile(rf"{_SP}(?:\({_SP}{inner}{_SP}\)|{inner}){_SP}")


_NUMERIC_DATE = re.compile(
    r"(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})"
    r"(?:(T| )(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?( ?)([AaPp][Mm])?)?"
)
_NAMED_DATE_FORMATS = (
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d-%B-%Y",
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class TextType:
    """How to read one text column: logical type plus what the conversion needs."""

    dtype: str
    detail: str = ""
    decimal: str = "."  # number / integer: the decimal mark
    strip: tuple[str, ...] = ()  # number / integer: symbols seen in the sample, removed
    formats: tuple[str, ...] = ()  # date / datetime: strptime formats to try, in order
    warning: str = ""  # something the user should know (e.g. assumed day/month order)
    trim: bool = False  # the sample had cells with leading/trailing spaces


def is_missing(value: str) -> bool:
    """True for blanks and NA-like tokens (``NA``, ``N/A``, ``null``, ``-``...)."""
    return value.strip().lower() in MISSING_TOKENS


def detect_type(
    values: Iterable[str], *, decimal_hint: str = ".", force: str | None = None
) -> TextType:
    """Decide the logical type of a column from sample values.

    ``values`` are distinct raw cells. Blanks and NA-like tokens are ignored for number, date
    and boolean columns. ``decimal_hint`` breaks ties such as ``1,234`` (``","`` for files
    delimited by ``;``). With ``force`` the caller chose the type; the sample only tunes the
    conversion (decimal mark, date formats).
    """
    raw = list(values)
    cells = [v.strip() for v in raw]
    present = [v for v in cells if v.lower() not in MISSING_TOKENS]
    kind = _detect(present, decimal_hint, force)
    return replace(kind, trim=any(len(c) != len(v) for c, v in zip(cells, raw, strict=True)))


def _detect(present: list[str], decimal_hint: str, force: str | None) -> TextType:
    """``detect_type`` on trimmed, non-missing values."""
    if force == "text":
        return TextType("text")
    if force in ("number", "integer"):
        return _number_type(present, decimal_hint, force) or TextType(force)
    if force in ("date", "datetime"):
        found = _date_type(present, len(present))
        if found is None:
            return TextType(force, formats=_DEFAULT_DATE_FORMATS)
        return TextType(force, found.detail, formats=found.formats, warning=found.warning)
    if force == "boolean":
        return TextType("boolean")
    if force is not None:
        raise ValueError(f"unknown type {force!r}")
    if not present:
        return TextType("text")
    return _plain_type(present, decimal_hint) or _general_type(present, decimal_hint)


def _plain_type(present: list[str], decimal_hint: str) -> TextType | None:
    """The type of a column of plain decimals (``-12.5``) or of ISO dates, the usual exports,
    decided without the general checks; None for any other column. ``_general_type`` gives
    the same type for these columns (tests/test_ingest.py compares them)."""
    first = present[0]
    if _PLAIN_DECIMAL.fullmatch(first):
        plain = all(len(v) <= 15 and _PLAIN_DECIMAL.fullmatch(v) for v in present)
        # a dot in every value; unless one of them can't be a thousands separator, the hint
        # decides, as in ``_decimal_mark``
        if plain and (decimal_hint == "." or not all(map(_GROUPED["."].search, present))):
            return TextType("number")
    elif _ISO_DATE.fullmatch(first) and all(map(_ISO_DATE.fullmatch, present)):
        try:
            for v in present:
                date.fromisoformat(v)
        except ValueError:  # e.g. 2024-02-30: the general checks count the failures
            return None
        return TextType("date", "dates Y-M-D", formats=("%Y-%m-%d",))
    return None


def _general_type(present: list[str], decimal_hint: str) -> TextType:
    """``_detect`` of a column with values and no forced type."""
    lowered = {v.lower() for v in present}
    if lowered <= {*TRUE_TOKENS, *FALSE_TOKENS}:
        return TextType("boolean")
    if any(len(v) > 1 and v.startswith("0") and v.isdigit() for v in present):
        return TextType("text", "leading zeros kept (codes, not numbers)")
    return (
        _number_type(present, decimal_hint)
        or _date_type(present, _tolerance(present))
        or TextType("text")
    )


def _number_type(
    present: Sequence[str], decimal_hint: str, force: str | None = None
) -> TextType | None:
    """Number or integer type if (nearly) every value is a (formatted) number, else None."""
    allowed = len(present) if force else _tolerance(present)
    ints = [v for v in present if _PLAIN_INT.fullmatch(v) and len(v.lstrip("+-")) <= 15]
    if force != "number" and ints and len(present) - len(ints) <= allowed:
        return TextType("integer")
    decimal = _decimal_mark(present, decimal_hint)
    number = _number_regex(decimal)
    numbers = [v for v in present if number.fullmatch(v)]
    if not numbers or len(present) - len(numbers) > allowed:
        return None
    if force is None and any(len(_NON_DIGIT.sub("", v)) > 15 for v in numbers if len(v) > 15):
        return None  # long digit strings are identifiers; a float would lose digits
    blob = "\n".join(numbers)  # one string: symbol look-ups run in C, not per value
    details = []
    currencies = [c for c in _CURRENCIES if c in blob]
    if currencies:
        details.append("currency " + " ".join(currencies))
    if "%" in blob:
        details.append("percent")
    if any(v.startswith("(") and v.endswith(")") for v in numbers):
        details.append("accounting negatives")
    if decimal == ",":
        details.append("decimal comma")
    group = "," if decimal == "." else "."
    symbols = (group, "'", *_SPACES, *_CURRENCIES, "%", "(", ")")
    strip = tuple(t for t in symbols if t in blob)
    plain_ints = all(_PLAIN_INT.fullmatch(v.replace(group, "")) for v in numbers)
    dtype = force or ("integer" if plain_ints and not currencies else "number")
    return TextType(dtype, ", ".join(details), decimal=decimal, strip=strip)


def _tolerance(present: Sequence[str]) -> int:
    """How many odd values a sample may hold and still be typed (they become rejects)."""
    return len(present) // 20


def _decimal_mark(present: Sequence[str], hint: str) -> str:
    """``"."`` or ``","``: which one separates decimals, from evidence in the values."""
    votes: Counter[str] = Counter()
    for v in present:
        dot, comma = v.rfind("."), v.rfind(",")
        if dot >= 0 and comma >= 0:
            votes["." if dot > comma else ","] += 1
        elif comma >= 0 and not _GROUPED[","].search(v):
            votes[","] += 1
        elif dot >= 0 and not _GROUPED["."].search(v):
            votes["."] += 1
    if not votes:
        return hint
    return max(votes, key=lambda k: (votes[k], k == hint))


_DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


def _date_type(present: Sequence[str], allowed: int) -> TextType | None:
    """Date or datetime type if all but ``allowed`` values parse as dates, else None.

    Day/month order is decided from the values: a first part above 12 means D/M, a second
    part above 12 means M/D; when every value fits both, M/D/Y is assumed (D.M.Y for dots)
    and the result carries a warning.
    """
    fixed: dict[str, str] = {}  # format -> label, for values with one reading
    dm: dict[str, tuple[str, str, str]] = {}  # value -> (mdy format, dmy format, separator)
    votes = {"mdy": 0, "dmy": 0}
    has_time = False
    failures = 0
    for v in present:
        parsed = _parse_date(v)
        if parsed is None:
            failures += 1
            if failures > allowed:
                return None
            continue
        kind, fmt, label, when = parsed
        has_time = has_time or bool(when.hour or when.minute or when.second or when.microsecond)
        if kind == "fixed":
            fixed[fmt] = label
        else:
            mdy, dmy, sep = fmt.split("|")
            dm[v] = (mdy, dmy, sep)
            if kind in votes:
                votes[kind] += 1
    if not fixed and not dm:
        return None
    detail_parts = list(dict.fromkeys(fixed.values()))
    formats = list(fixed)
    warning = ""
    if dm:
        seps = {sep for _, _, sep in dm.values()}
        if votes["mdy"] or votes["dmy"]:
            order = "dmy" if votes["dmy"] > votes["mdy"] else "mdy"
            if votes["mdy"] and votes["dmy"]:
                warning = "mixed day/month order: read as " + _order_label(order, seps)
        else:
            order = "dmy" if seps == {"."} else "mdy"
            warning = "ambiguous day/month order: assumed " + _order_label(order, seps)
        idx = 0 if order == "mdy" else 1
        formats += list(dict.fromkeys(pair[idx] for pair in dm.values()))
        if not warning:
            detail_parts.append(_order_label(order, seps))
    detail = "dates " + ", ".join(detail_parts) if detail_parts else ""
    if warning:
        detail = f"{detail}; {warning}" if detail else warning
    dtype = "datetime" if has_time else "date"
    return TextType(dtype, detail, formats=tuple(dict.fromkeys(formats)), warning=warning)


def _order_label(order: str, seps: set[str]) -> str:
    sep = "/" if "/" in seps or len(seps) != 1 else next(iter(seps))
    return sep.join("MDY" if order == "mdy" else "DMY")


def _parse_date(v: str) -> tuple[str, str, str, datetime] | None:
    """Classify one date text: ``(kind, format, label, value)`` or None if it is no date.

    ``kind`` is "fixed" (one reading), "mdy"/"dmy" (only that order is valid) or "both";
    for the last three ``format`` is ``"<M/D format>|<D/M format>|<separator>"``.
    """
    m = _NUMERIC_DATE.fullmatch(v)
    if m is None:
        return _parse_named_date(v)
    a, sep, b, c, tsep, hh, mi, ss, frac, pspace, ampm = m.groups()
    tfmt, tvals = "", (0, 0, 0, 0)
    if hh is not None:
        hour = int(hh)
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        tfmt = tsep + ("%I" if ampm else "%H") + ":%M" + (":%S" if ss else "")
        tfmt += (".%f" if frac else "") + (pspace + "%p" if ampm else "")
        micro = int((frac or ".0")[1:].ljust(6, "0"))
        tvals = (hour, int(mi), int(ss or 0), micro)
    year_fmt = "%Y" if len(c) == 4 else "%y"
    if len(a) == 4 and len(c) <= 2:
        when = _make_date(int(a), int(b), int(c), tvals)
        fmt = f"%Y{sep}%m{sep}%d{tfmt}"
        return None if when is None else ("fixed", fmt, f"Y{sep}M{sep}D", when)
    if len(a) > 2 or len(c) not in (2, 4):
        return None
    year = int(c) if len(c) == 4 else (2000 + int(c) if int(c) < 69 else 1900 + int(c))
    as_mdy = _make_date(year, int(a), int(b), tvals)
    as_dmy = _make_date(year, int(b), int(a), tvals)
    if as_mdy is None and as_dmy is None:
        return None
    kind = "both" if as_mdy and as_dmy else ("mdy" if as_mdy else "dmy")
    fmt = f"%m{sep}%d{sep}{year_fmt}{tfmt}|%d{sep}%m{sep}{year_fmt}{tfmt}|{sep}"
    return kind, fmt, "", as_mdy or as_dmy  # type: ignore[return-value]


def _make_date(
    year: int, month: int, day: int, tvals: tuple[int, int, int, int]
) -> datetime | None:
    try:
        return datetime(year, month, day, *tvals)
    except ValueError:
        return None


def _parse_named_date(v: str) -> tuple[str, str, str, datetime] | None:
    """Dates with month names: ``5-Jan-2024``, ``Jan 5, 2024``, ``5 January 2024``."""
    # a digit and three letters, in two linear scans (a regex with ``.*`` between them
    # backtracks quadratically on a long cell)
    if not (_DIGIT.search(v) and _WORD.search(v)):
        return None
    for fmt in _NAMED_DATE_FORMATS:
        try:
            return "fixed", fmt, "month names", datetime.strptime(v, fmt)
        except ValueError:
            continue
    return None


# --- SQL ------------------------------------------------------------------------------


class Params:
    """Named bound parameters collected while building one statement."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add(self, value: object) -> str:
        """Bind ``value`` and return its placeholder (``$p3``)."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "$" + name


def conversion_sql(raw: str, kind: TextType, params: Params) -> str:
    """DuckDB expression converting the VARCHAR expression ``raw`` as ``kind`` says.

    Values that don't convert become NULL (the caller reports them as rejects).
    """
    s = f"trim({raw})" if kind.trim else raw  # casts ignore spaces themselves
    if kind.dtype == "text":
        return f"NULLIF({s}, '')"
    if kind.dtype == "boolean":
        true = params.add(list(FORCED_TRUE_TOKENS))
        false = params.add(list(FORCED_FALSE_TOKENS))
        return (
            f"CASE WHEN list_contains({true}, lower({s})) THEN true "
            f"WHEN list_contains({false}, lower({s})) THEN false END"
        )
    if kind.dtype in ("number", "integer"):
        return _number_sql(s, kind, params)
    if kind.dtype in ("date", "datetime"):
        return _date_sql(s, kind, params)
    raise ValueError(f"unknown type {kind.dtype!r}")


def _number_sql(s: str, kind: TextType, params: Params) -> str:
    """Cast after removing the symbols the sample showed (thousands separators, currency...).

    ``replace`` per symbol is several times cheaper than a regular expression. A leading
    minus survives the cleaning and the cast; parentheses mean negative, ``%`` divides by 100.
    """
    cleaned = s
    for token in kind.strip:
        cleaned = f"replace({cleaned}, {params.add(token)}, '')"
    if kind.decimal == ",":
        cleaned = f"replace({cleaned}, ',', '.')"
    if kind.dtype == "integer":
        return f"TRY_CAST({cleaned} AS BIGINT)"
    value = f"TRY_CAST({cleaned} AS DOUBLE)"
    if "(" in kind.strip:
        value += f" * (CASE WHEN starts_with({s}, '(') THEN -1 ELSE 1 END)"
    if "%" in kind.strip:
        value += f" / (CASE WHEN contains({s}, '%') THEN 100 ELSE 1 END)"
    return f"NULLIF({value}, 'nan'::DOUBLE)"  # TRY_CAST reads 'NaN' as a number


def native_read(raw: str, kind: TextType, values: Iterable[str]) -> tuple[str, str] | None:
    """``(type, expression)`` when DuckDB's CSV reader may parse the column ``raw`` as
    ``type`` itself and ``expression`` over it then equals ``conversion_sql``'s; else None.

    Only number columns that ``conversion_sql`` merely casts (a decimal point, no symbols to
    remove) and whose sampled ``values`` are all plain numbers: for every cell the reader
    accepts as BIGINT or DOUBLE it gives what ``TRY_CAST`` gives (tests/test_ingest.py probes
    tricky cells), and a cell it refuses fails the read instead of becoming NULL.
    """
    if kind.dtype not in ("integer", "number") or kind.strip or kind.decimal != ".":
        return None
    plain = _NATIVE[kind.dtype]
    if not all(plain.fullmatch(v.strip(" ")) for v in values if v is not None):
        return None
    if kind.dtype == "integer":
        return "BIGINT", raw
    return "DOUBLE", f"NULLIF({raw}, 'nan'::DOUBLE)"


def _date_sql(s: str, kind: TextType, params: Params) -> str:
    """ISO text casts directly; other layouts go through ``try_strptime`` with a format list."""
    if kind.dtype == "date" and kind.formats == ("%Y-%m-%d",):
        return f"TRY_CAST({s} AS DATE)"
    parts = []
    if any(f.startswith("%Y-%m-%d") for f in kind.formats):
        parts.append(f"TRY_CAST({s} AS TIMESTAMP)")
    others = [f for f in kind.formats if not f.startswith("%Y-%m-%d")]
    if others:
        parts.append(f"try_strptime({s}, {params.add(others)})")
    if not parts:
        parts.append(f"TRY_CAST({s} AS TIMESTAMP)")
    expr = parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
    return f"CAST({expr} AS {SQL_TYPES[kind.dtype]})"


def missing_sql(raw: str, params: Params) -> str:
    """SQL condition: ``raw`` is NULL, blank or an NA-like token."""
    return (
        f"({raw} IS NULL OR list_contains({params.add(list(MISSING_TOKENS))}, lower(trim({raw}))))"
    )


_DUCKDB_LOGICAL = {
    "BOOLEAN": "boolean",
    "TINYINT": "integer",
    "SMALLINT": "integer",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "UTINYINT": "integer",
    "USMALLINT": "integer",
    "UINTEGER": "integer",
    "UBIGINT": "integer",
    "HUGEINT": "integer",
    "FLOAT": "number",
    "DOUBLE": "number",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "TIMESTAMP_S": "datetime",
    "TIMESTAMP_MS": "datetime",
    "TIMESTAMP_NS": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetime",
    "VARCHAR": "text",
}


def logical_type(sql_type: str) -> str:
    """Our logical type for a DuckDB type; anything unusual is shown as text."""
    if sql_type.startswith("DECIMAL"):
        return "number"
    return _DUCKDB_LOGICAL.get(sql_type, "text")
