"""`mlops sql "SELECT ..."`: SQL over the lake's tables by name, printed as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import polars as pl

from mlops_assets.lake.sql import lake_from_environment, run_sql

__all__ = ["register"]

EXAMPLES = """examples:
  mlops sql --tables
  mlops sql "SELECT line, date, count(*) AS samples FROM validated_telemetry GROUP BY line, date ORDER BY date"
  mlops sql "SELECT topic, share_valid, top_failure_reasons FROM payload_compliance WHERE share_valid < 0.99"
  mlops sql --format csv "SELECT stage, error_kind, error_path, error_reason FROM quarantined_messages" > refused.csv
  MLOPS_ENV=prod MLOPS_LAKE_ROOT=s3://acme-lake/lake mlops sql "SELECT count(*) FROM raw_uns_captures"
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="run SQL over the lake's Delta tables",
        description="Run SQL (polars SQL) over every table of the lake, by name.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", nargs="?", help="the SQL query")
    parser.add_argument("--lake", help="lake root (folder or s3://bucket/prefix); default: the environment's")
    parser.add_argument("--format", choices=("table", "csv", "json", "ndjson"), default="table")
    parser.add_argument("--max-rows", type=int, default=50, help="rows shown in table format (-1 = all)")
    parser.add_argument("--tables", action="store_true", help="list the tables and their columns")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        store = lake_from_environment(args.lake)
        if args.tables:
            for table in store.list_tables():
                schema = store.scan(table).collect_schema()
                print(f"{table.name}  ({table.layer}, {store.uri(table)})")
                print("    " + ", ".join(f"{name} {dtype}" for name, dtype in schema.items()))
            return 0
        if not args.query:
            print("mlops sql: give a query, or --tables", file=sys.stderr)
            return 2
        result = run_sql(store, args.query)
    except (ValueError, FileNotFoundError, pl.exceptions.PolarsError) as exc:
        print(f"mlops sql: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.format == "csv":
        sys.stdout.write(result.write_csv())
    elif args.format == "json":
        sys.stdout.write(result.write_json() + "\n")
    elif args.format == "ndjson":
        sys.stdout.write(result.write_ndjson())
    else:
        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            print(result)
        print(f"{result.height} rows")
    return 0
