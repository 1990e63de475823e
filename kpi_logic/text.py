"""User text shown as text: the one rule for names, headers, values and messages on a page.

Anything that came from a user or a file (dataset and file names, column headers and values,
KPI names, owners, descriptions, units, expressions, KPI set and view names, notes, URL
values, and error messages quoting them) goes through :func:`markdown_text` before it is
placed in markdown (Streamlit's ``st.markdown``, ``st.caption``, ``st.info``/``warning``/
``error``/``success``, ``st.toast``, widget and metric labels, ``help=``, expander labels,
progress text), and through :func:`plain_text` where the element shows text as it is (chart
titles, select box options). Data cells stay as they are (tables and chart data show them
as text).

- :func:`plain_text`: one line; every run of whitespace (line breaks included) is one space;
  control characters, bidirectional overrides and isolates, zero-width and other invisible
  format characters are removed, so text cannot reorder or hide what is around it.
- :func:`markdown_text`: that, with the characters markdown acts on backslash-escaped
  (CommonMark shows an escaped one as itself): ``\\ ` * _ [ ] < > # ~ $ &`` anywhere, a
  leading ``-``, ``+`` or a number's ``.`` / ``)`` (a list); so no image, link, emphasis,
  heading, HTML, math, entity or ``:red[...]`` directive. Streamlit also finds ``:name:``
  emoji, ``:material/...:`` icons and web or mail addresses (``http://``, ``www.``,
  ``a@b.c``) in plain text, escaped or not: an invisible word joiner after each ``:`` or
  ``@`` followed by text, and after ``www`` before a dot, keeps them text.

>>> markdown_text("![x](http://h/p.png) *b*")
'!\\\\[x\\\\](http:\\u2060//h/p.png) \\\\*b\\\\*'
>>> plain_text("Sales\\u202e gnp.exe \\u200bnorth\\n\\nwest")
'Sales gnp.exe north west'
"""

from __future__ import annotations

import re
import unicodedata

WORD_JOINER = "\u2060"  # invisible and unbreakable: splits what Streamlit would turn into links
_WHITESPACE = re.compile(r"\s+")
_REMOVED = frozenset({"Cc", "Cf", "Cs"})  # control, format (bidi, zero-width), surrogate
_ESCAPES = {ord(c): "\\" + c for c in "\\`*_[]<>#~$&"}
_LIST_START = re.compile(r"^( ?)([-+]|\d{1,9}[.)])(?=\s|$)")  # plain_text: at most one space
# where Streamlit's passes over plain text would still find an emoji ``:name:``, a logo
# ``:streamlit:`` or a web or mail address to link (GFM autolinks ignore escapes)
_BREAKS = re.compile(r"(?<=[:@])(?=\S)|(?<=www)(?=\.)", re.IGNORECASE)


def plain_text(value: object) -> str:
    """``value`` as one line of visible text (see the module docstring).

    >>> plain_text("  two\\r\\nlines\\t")
    ' two lines '
    """
    text = "".join(c for c in str(value) if c.isspace() or unicodedata.category(c) not in _REMOVED)
    return _WHITESPACE.sub(" ", text)


def markdown_text(value: object) -> str:
    """``value`` as literal text inside Streamlit markdown (see the module docstring).

    >>> markdown_text("- :red[up] $x$ a@b.c")
    '\\\\- :\\u2060red\\\\[up\\\\] \\\\$x\\\\$ a@\\u2060b.c'
    """
    escaped = _LIST_START.sub(_escape_marker, plain_text(value).translate(_ESCAPES))
    return _BREAKS.sub(WORD_JOINER, escaped)


def _escape_marker(match: re.Match[str]) -> str:
    space, marker = match.groups()
    return f"{space}{marker[:-1]}\\{marker[-1]}"
