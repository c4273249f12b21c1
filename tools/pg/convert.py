#!/usr/bin/env python3
"""Moves Switchyard's code from sqlx's SQLite types to the portable `db` layer (issue 10).

Re-runnable and idempotent: run it from a checkout's root (`python3 /work/pg/convert.py [ROOT]`)
on code written against `&mut SqliteConnection` / `SqlitePool` / `sqlx::query*`, then build:
what it cannot do mechanically the compiler names (bind types without `db::IntoArg`, raw
SQLite use in tests). It leaves src/db/ and tests/ (which read the SQLite file directly) alone,
apart from calls into switchyard that tests make with a raw connection.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."


def rust_files(folder):
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            if f.endswith(".rs"):
                yield os.path.join(dirpath, f)


def fix_use_lists(s, db):
    """`use sqlx::{A, B};` lists: the SQLite names go, `db` names come in."""

    def repl(m):
        items = [i.strip() for i in m.group(1).split(",") if i.strip()]
        keep, bring = [], []
        for i in items:
            if i == "SqliteConnection":
                bring.append("Conn")
            elif i == "QueryBuilder":
                bring.append("QueryBuilder")
            elif i in ("Sqlite", "Connection", "SqlitePool"):
                if i == "SqlitePool":
                    bring.append("Db")
                continue
            elif i.startswith("Transaction"):
                bring.append("Tx")
            else:
                keep.append(i)
        out = []
        if keep:
            out.append("use sqlx::" + (keep[0] if len(keep) == 1 else "{" + ", ".join(keep) + "}") + ";")
        if bring:
            out.append("use " + db + "::" + (bring[0] if len(bring) == 1 else "{" + ", ".join(sorted(set(bring))) + "}") + ";")
        return "\n".join(out)

    s = re.sub(r"use sqlx::\{([^}]*)\};", lambda m: repl(m) if re.search(r"\b(SqliteConnection|Sqlite|QueryBuilder|Connection|SqlitePool|Transaction)\b", m.group(1)) else m.group(0), s)
    s = re.sub(r"use sqlx::SqliteConnection;", "use " + db + "::Conn;", s)
    s = re.sub(r"use sqlx::QueryBuilder;", "use " + db + "::QueryBuilder;", s)
    s = re.sub(r"use sqlx::Connection;\n", "", s)
    return s


def convert(s, db):
    s = fix_use_lists(s, db)
    # types
    s = re.sub(r"\bsqlx::SqliteConnection\b", db + "::Conn", s)
    s = re.sub(r"(?<![\w:])SqliteConnection\b", "Conn", s)
    s = re.sub(r"\b(sqlx::)?Transaction<'static,\s*(sqlx::)?Sqlite>", db + "::Tx", s)
    s = re.sub(r"\b(sqlx::)?SqlitePool\b", db + "::Db", s)
    s = re.sub(r"\b(sqlx::)?QueryBuilder<('_,\s*)?(sqlx::)?Sqlite>", lambda m: (db + "::" if m.group(1) else "") + "QueryBuilder", s)
    s = re.sub(r"\bsqlx::QueryBuilder::new\b", db + "::QueryBuilder::new", s)
    # queries
    s = re.sub(r"\bsqlx::query_as::<_,\s*", db + "::query_as::<", s)
    s = re.sub(r"\bsqlx::query_scalar::<_,\s*", db + "::query_scalar::<", s)
    s = re.sub(r"\bsqlx::(query|query_as|query_scalar)\b(?=\s*(\(|::<))", db + r"::\1", s)
    # a pool's own begin: writes go through begin_write (BEGIN IMMEDIATE on SQLite)
    s = re.sub(r"\b(db|pool)\.begin\(\)\.await", db + r"::begin_write(&\1).await", s)
    return s


def main():
    changed = 0
    for folder, db in (("src", "crate::db"), ("benches", "switchyard::db"), ("examples", "switchyard::db")):
        for path in rust_files(folder):
            rel = os.path.relpath(path, ROOT)
            if rel.startswith(os.path.join("src", "db") + os.sep):
                continue
            text = open(path).read()
            new = convert(text, db)
            if new != text:
                open(path, "w").write(new)
                changed += 1
    print(f"{changed} files converted")


if __name__ == "__main__":
    main()
