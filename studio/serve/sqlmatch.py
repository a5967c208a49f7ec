"""Execution match for text-to-SQL rows: the predicted and the reference query run against the row's SQLite
database and their result sets are compared (as BIRD's evaluation does: the same set of rows).

A model's SQL is untrusted input. The database is opened read-only (`mode=ro`) with `query_only` on; an
authorizer allows reading only (no ATTACH, no PRAGMA, no writes), a progress handler stops any query after the
time limit, and at most MAX_ROWS rows are fetched. Each failure is counted by its kind."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

MAX_ROWS = 100_000
KINDS = ("match", "mismatch", "pred_error", "write_refused", "timeout", "too_many_rows", "gold_error", "missing_db",
         "no_sql")
_READ = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_WRITE = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_DROP_TABLE,
          sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_ALTER_TABLE, sqlite3.SQLITE_CREATE_INDEX,
          sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW,
          sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_TRANSACTION}


class QueryFailed(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def database(folder: Path, db_id: str) -> Path | None:
    """<folder>/<db_id>/<db_id>.sqlite (BIRD's and Spider's layout), only for a plain name that stays inside."""
    if not db_id or "/" in db_id or "\\" in db_id or db_id.startswith(".") or "\x00" in db_id:
        return None
    path = folder / db_id / f"{db_id}.sqlite"
    try:
        if path.resolve().is_relative_to(folder.resolve()) and path.is_file():
            return path
    except OSError:
        return None
    return None


def run_query(db: Path, sql: str, timeout_s: float) -> list[tuple[Any, ...]]:
    """The query's rows; raises QueryFailed(kind, detail) for writes, errors, the time limit and huge results."""
    wrote: list[int] = []

    def authorize(action: int, *_: Any) -> int:
        if action in _READ:
            return sqlite3.SQLITE_OK
        if action in _WRITE:
            wrote.append(action)
        return sqlite3.SQLITE_DENY

    con = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True, timeout=timeout_s,
                          check_same_thread=False)
    try:
        con.execute("PRAGMA query_only = ON")
        con.set_authorizer(authorize)
        deadline = time.monotonic() + timeout_s
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            rows = con.execute(sql).fetchmany(MAX_ROWS + 1)
        except sqlite3.Error as exc:
            if time.monotonic() > deadline:
                raise QueryFailed("timeout", f"over {timeout_s:g} s") from None
            if wrote or "readonly" in str(exc):
                raise QueryFailed("write_refused", str(exc)) from None
            raise QueryFailed("error", str(exc)) from None
        except (ValueError, sqlite3.Warning) as exc:  # several statements, a NUL in the text
            raise QueryFailed("error", str(exc)) from None
        if len(rows) > MAX_ROWS:
            raise QueryFailed("too_many_rows", f"more than {MAX_ROWS} rows")
        return rows
    finally:
        con.close()


def execution_match(folder: Path, db_id: str, predicted: str, reference: str, timeout_s: float
                    ) -> tuple[str, str]:
    """(kind, detail) for one row; kind is one of KINDS."""
    db = database(folder, db_id)
    if db is None:
        return "missing_db", db_id
    if not reference.strip():
        return "gold_error", "the reference SQL is empty"
    if not predicted.strip():
        return "no_sql", ""
    try:
        gold = run_query(db, reference, timeout_s)
    except QueryFailed as exc:
        return "gold_error", f"{exc.kind}: {exc}"
    try:
        got = run_query(db, predicted, timeout_s)
    except QueryFailed as exc:
        return ("pred_error" if exc.kind == "error" else exc.kind), str(exc)
    return ("match", "") if set(got) == set(gold) else ("mismatch", f"{len(got)} rows vs {len(gold)}")


def summary(kinds: list[str], missing: Counter[str]) -> dict[str, Any]:
    """The execution-match share over rows whose reference ran, and every kind counted."""
    counts = Counter(kinds)
    scored = len(kinds) - counts["gold_error"] - counts["missing_db"]
    return {"execution_match": round(100.0 * counts["match"] / scored, 4) if scored else 0.0,
            "scored_rows": scored, "kinds": {k: counts[k] for k in KINDS if counts[k]},
            "missing_dbs": dict(missing)}
