"""The one rule for user text on a page (kpi_logic.text): what is removed, what is escaped.

What Streamlit's own renderer makes of the escaped text is checked in a real browser by
tests/test_faults_text.py."""

from __future__ import annotations

import re

import pytest

from kpi_logic.text import WORD_JOINER, markdown_text, plain_text

INVISIBLE = [
    "\u202a",  # left-to-right embedding
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # right-to-left override
    "\u2066",  # isolates
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",  # marks
    "\u200f",
    "\u061c",
    "\u200b",  # zero-width space, non-joiner, joiner
    "\u200c",
    "\u200d",
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "\x00",
    "\x1b",
    "\x7f",
    "\x9b",
]


@pytest.mark.parametrize("char", INVISIBLE)
def test_plain_text_removes_invisible_and_reordering_characters(char: str) -> None:
    assert plain_text(f"Sales{char}North") == "SalesNorth"


def test_plain_text_is_one_line_and_keeps_what_is_visible() -> None:
    assert plain_text("a\n\n# b\r\n- c\t\td\u2028e\u00a0f") == "a # b - c d e f"
    assert plain_text("Umsatz Süd 東京 📈 Ωmega") == "Umsatz Süd 東京 📈 Ωmega"
    assert plain_text("x \u200b y") == "x y"  # no double space where a character went
    assert plain_text(12.5) == "12.5"
    assert plain_text("\ud800broken") == "broken"  # a lone surrogate


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("![x](http://h/p.png)", "!\\[x\\](http:\u2060//h/p.png)"),
        ("[click](javascript:alert(1))", "\\[click\\](javascript:\u2060alert(1))"),
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("**bold** _it_ `code` ~~no~~", "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~no\\~\\~"),
        ("$x^2$ \\", "\\$x^2\\$ \\\\"),
        ("# Heading", "\\# Heading"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("12. item", "12\\. item"),
        ("3) item", "3\\) item"),
        ("&amp; &#60;", "\\&amp; \\&\\#60;"),
        (
            ":red[Off target] :material/check: :smile:",
            ":\u2060red\\[Off target\\] :\u2060material/check: :\u2060smile:",
        ),
        ("www.example.com WWW.x.org", "www\u2060.example.com WWW\u2060.x.org"),
        ("ann@example.com", "ann@\u2060example.com"),
        ('{{datum.x}}"+alert(1)+"', '{{datum.x}}"+alert(1)+"'),
    ],
)
def test_markdown_text_escapes_what_markdown_or_streamlit_would_act_on(
    raw: str, escaped: str
) -> None:
    assert markdown_text(raw) == escaped


@pytest.mark.parametrize(
    "ordinary",
    ["Revenue", "On-Time Delivery Rate", "Profit (net) 5.2%", "Note: one, two", "orders.csv"],
)
def test_ordinary_names_are_unchanged(ordinary: str) -> None:
    assert markdown_text(ordinary) == ordinary


def test_no_markdown_syntax_survives_in_hostile_text() -> None:
    hostile = (
        "![i](http://h/i.png)[l](javascript:x)<b>x</b>:red[r]:material/home:`c`*e*_e_~s~$m$"
        "&amp;\u202e\u200b http://h/a www.h.org a@h.org\n# h\n- l\n1. o"
    )
    out = markdown_text(hostile)
    unescaped = re.findall(r"(?<!\\)[\[\]<>`*_~$&#]", out)
    assert unescaped == []
    assert "\n" not in out
    assert all(out[m.end()] == WORD_JOINER for m in re.finditer(r"[:@](?=[^\s\u2060])", out))
    assert out.replace("\\", "").replace(WORD_JOINER, "") == plain_text(hostile)


def test_ten_kilobytes_stay_ten_kilobytes_of_text() -> None:
    name = "![x](http://h/p.png)" * 512
    out = markdown_text(name)
    assert len(plain_text(name)) == len(name)
    assert out.count("\\[") == 512
    assert "![x](" not in out
