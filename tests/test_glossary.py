"""The glossary (notebooks/GLOSSARY.md) against the terms the notebooks actually use."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "GLOSSARY.md"
NOTEBOOKS = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
CJK = re.compile(r"[\u4e00-\u9fff]+")
ABBREVIATION = re.compile(r"\b[A-Z][A-Z0-9/&-]*[A-Z0-9]\b")
# Capitals in the notebooks that name a thing rather than a term a trainee must learn.
NAMES = {"CDNOW": "a dataset", "UCI": "a data archive", "CVRPLIB": "a library of instances",
         "OR": "OR-Library, a library of instances", "UK": "a country", "CNY": "a currency",
         "GBP": "a currency", "SQL": "a query language", "GLOSSARY": "this file, by name"}
# The terms a trainee looks up first (the training brief names them).
REQUIRED = ("客户画像", "RFM", "CLV", "P(alive)", "需求预测", "MASE", "WAPE", "安全库存",
            "服务水平", "再订货点", "选址", "定制化生产", "风险管理", "新一线")


def entries() -> list[dict]:
    rows = [line for line in GLOSSARY.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| English")]
    out = []
    for line in rows:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4 and all(cells), f"a glossary row needs 4 cells: {line}"
        out.append({"english": [t.strip() for t in cells[0].split(" / ")], "chinese": cells[1],
                    "definition": cells[2], "notebooks": [n.strip() for n in
                                                          cells[3].split(",")]})
    return out


def text(path: Path, markdown_only: bool = False) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells
                     if c.cell_type == "markdown" or not markdown_only)


def uses(entry: dict, body: str) -> bool:
    """The notebook text names the term, in English (a plural too; an abbreviation in
    capitals only, so that MAP is not a map) or in Chinese."""
    def named(n: str) -> bool:
        text, n = (body, n) if n.isupper() else (body.lower(), n.lower())
        return re.search(r"(?<![A-Za-z0-9])" + re.escape(n) + r"(?:e?s)?(?![A-Za-z0-9])",
                         text) is not None
    return any(named(n) for n in [*entry["english"], entry["chinese"]])


def test_every_entry_is_complete_and_used_where_it_says():
    rows = entries()
    assert len(rows) >= 60
    english = [t.lower() for r in rows for t in r["english"]]
    assert len(english) == len(set(english)), "a term is defined twice"
    bodies = {k: text(p) for k, p in NOTEBOOKS.items()}
    wrong = []
    for r in rows:
        assert CJK.search(r["chinese"]), r
        assert set(r["notebooks"]) <= set(bodies), r
        wrong += [(r["english"][0], n) for n in r["notebooks"] if not uses(r, bodies[n])]
    assert not wrong, f"terms not used in the notebook the glossary names: {wrong}"


def test_every_abbreviation_and_chinese_term_in_the_notebooks_is_defined():
    rows = entries()
    defined = {t for r in rows for t in r["english"]}
    chinese = " ".join(r["chinese"] for r in rows)
    missing = {}
    for key, path in NOTEBOOKS.items():
        body = text(path, markdown_only=True)
        for term in set(ABBREVIATION.findall(body)) - defined - set(NAMES):
            missing.setdefault(term, key)
        for term in set(CJK.findall(body)):
            if term not in chinese:
                missing.setdefault(term, key)
    assert not missing, f"used in a notebook but not in GLOSSARY.md: {missing}"


@pytest.mark.parametrize("term", REQUIRED)
def test_the_core_terms_are_there(term):
    rows = entries()
    assert any(term in r["chinese"] or term in r["english"] for r in rows), term
