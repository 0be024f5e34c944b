"""The report table renderer: what a reader sees in each cell and header."""

import pandas as pd
from bs4 import BeautifulSoup

from eafix_forensics.render import Table, fmt_number


def cells(table: Table) -> list[list[str]]:
    soup = BeautifulSoup(table._repr_html_(), "html.parser")
    return [[td.get_text() for td in tr.find_all("td")] for tr in soup.find_all("tr") if tr.find_all("td")]


def headers(table: Table) -> list[str]:
    return [th.get_text() for th in BeautifulSoup(table._repr_html_(), "html.parser").find_all("th")]


def test_cells_read_as_people_write_them():
    frame = pd.DataFrame({
        "pid": pd.array([4242, None], dtype="Int64"),
        "quantity": [10000.0, 120000.0],
        "mean_exec_time_ms": [22.384634, float("nan")],
        "price": [1.0512, 150.12],
        "granted": pd.array([True, False], dtype="boolean"),
        "checked_at": pd.to_datetime(["2024-12-02 14:30:00", None], utc=True),
        "gap": pd.to_timedelta(["1 h 5 min", None]),
        "error": ["broker timeout", None],
    })
    t = Table(frame)
    assert headers(t) == ["Pid", "Quantity", "Mean exec time (ms)", "Price", "Granted", "Checked at (UTC)", "Gap", "Error"]
    assert cells(t) == [
        ["4242", "10,000", "22.38", "1.0512", "✓", "2024-12-02 14:30:00", "1 h 05 min", "broker timeout"],
        ["—", "120,000", "—", "150.12", "✗", "—", "—", "—"],
    ]
    html = t._repr_html_()
    assert "NaN" not in html and "None" not in html and "NaT" not in html
    assert "<th></th>" not in html and ">0<" not in html  # no index column


def test_long_text_folds_and_is_never_cut():
    text = "UPDATE positions SET qty = $1 " * 20
    t = Table(pd.DataFrame({"query": [text.strip()]}), fold=100)
    soup = BeautifulSoup(t._repr_html_(), "html.parser")
    details = soup.find("details")
    assert details is not None and text.strip() in details.get_text()
    assert not any(c.endswith(("...", "…")) for row in cells(t) for c in row)
    assert text.strip() in t._repr_markdown_()


def test_markdown_and_plain_text_agree_with_the_html():
    t = Table(pd.DataFrame({"service": ["a|b"], "count": [1234]}), links={"service": ["../INC-1/investigation.html"]})
    md = t._repr_markdown_().splitlines()
    assert md[0] == "| Service | Count |" and md[1] == "|---|---:|"
    assert md[2] == "| [a\\|b](../INC-1/investigation.html) | 1,234 |"
    assert repr(t).splitlines()[1].split() == ["a|b", "1,234"]
    assert 'href="../INC-1/investigation.html"' in t._repr_html_()


def test_rows_past_the_limit_are_counted_not_hidden():
    t = Table(pd.DataFrame({"n": range(5)}), max_rows=2)
    assert len(cells(t)) == 2
    assert "Showing the first 2 of 5 rows." in t._repr_html_()


def test_numbers():
    assert [fmt_number(v) for v in (10000.0, 7.099399999999999, 0.1 + 0.2, -168.0, 1e6 / 3)] == [
        "10,000", "7.0994", "0.3", "-168", "333,333"]


def test_long_tables_keep_their_first_rows_in_view_and_fold_the_rest():
    t = Table(pd.DataFrame({"order": [f"O-{i}" for i in range(23)]}), collapse_after=8)
    soup = BeautifulSoup(t._repr_html_(), "html.parser")
    first, rest = soup.find_all("table")
    assert len(first.find_all("td")) == 8 and rest.find_parent("details") is not None
    assert len(rest.find_all("td")) == 15 and soup.find("summary").get_text() == "15 more rows"
    assert t._repr_markdown_().count("| O-") == 23  # the Markdown export has every row
