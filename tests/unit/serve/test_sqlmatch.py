"""Execution match against a SQLite database made here: a model's SQL can read, never write, attach or run
forever; a missing database is counted by its db_id."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from studio.serve.sqlmatch import execution_match, summary


@pytest.fixture
def dbs(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    con = sqlite3.connect(tmp_path / "shop" / "shop.sqlite")
    con.execute("CREATE TABLE items (id INT, name TEXT, price REAL)")
    con.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item{i}", i * 1.5) for i in range(20)])
    con.commit()
    con.close()
    return tmp_path


def test_matches_by_result_set(dbs: Path) -> None:
    gold = "SELECT name FROM items WHERE price > 20"
    assert execution_match(dbs, "shop", "SELECT name FROM items WHERE id >= 14", gold, 5) == ("match", "")
    assert execution_match(dbs, "shop", "SELECT name FROM items", gold, 5)[0] == "mismatch"
    assert execution_match(dbs, "shop", "SELECT nope FROM items", gold, 5)[0] == "pred_error"
    assert execution_match(dbs, "shop", "", gold, 5)[0] == "no_sql"
    assert execution_match(dbs, "shop", "SELECT 1", "SELECT broken FROM", 5)[0] == "gold_error"


@pytest.mark.parametrize("sql", ["DELETE FROM items", "DROP TABLE items", "INSERT INTO items VALUES (1, 'x', 1)",
                                 "UPDATE items SET price = 0"])
def test_writes_are_refused(dbs: Path, sql: str) -> None:
    assert execution_match(dbs, "shop", sql, "SELECT 1", 5)[0] == "write_refused"
    con = sqlite3.connect(dbs / "shop" / "shop.sqlite")
    assert con.execute("SELECT COUNT(*), SUM(price) FROM items").fetchone() == (20, 285.0)


@pytest.mark.parametrize("sql", [f"ATTACH DATABASE '{'/tmp/x.db'}' AS x", "PRAGMA writable_schema = 1",
                                 "SELECT 1; DELETE FROM items"])
def test_other_statements_are_errors(dbs: Path, sql: str) -> None:
    assert execution_match(dbs, "shop", sql, "SELECT 1", 5)[0] == "pred_error"


def test_time_limit(dbs: Path) -> None:
    forever = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT COUNT(*) FROM n"
    start = time.monotonic()
    assert execution_match(dbs, "shop", forever, "SELECT 1", 0.5) == ("timeout", "over 0.5 s")
    assert time.monotonic() - start < 3


def test_missing_databases_counted(dbs: Path) -> None:
    kinds, missing = [], Counter()
    for db_id in ("shop", "bank", "bank", "../shop", "shop/../shop"):
        kind, detail = execution_match(dbs, db_id, "SELECT 1", "SELECT 1", 5)
        kinds.append(kind)
        if kind == "missing_db":
            missing[detail] += 1
    result = summary(kinds, missing)
    assert result["missing_dbs"] == {"bank": 2, "../shop": 1, "shop/../shop": 1}
    assert result["execution_match"] == 100.0 and result["scored_rows"] == 1
