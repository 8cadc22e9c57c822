"""Columnar checks built from a `PayloadPlan`: one boolean expression per rule, over whole columns.

Validity is computed for every row from cheap aggregates (list min, max, length, null count); the
reason is attributed only on the rows that failed, as the first failing rule in document order, with
the same wording as the edge's per-message validator (`must be <= 10000, got 10200.5`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from edge_agent.contract import ErrorKind, json_path
from mlops_assets.lake.validation.decode import PROBE
from mlops_assets.lake.validation.plan import ArrayMapSpec, Bounds, NumberArraySpec, PayloadPlan, ScalarSpec

__all__ = ["Rule", "attribute_reasons", "build_rules"]


@dataclass(frozen=True)
class Rule:
    kind: str
    fails: pl.Expr
    path: pl.Expr
    reason: pl.Expr


def _lit(text: str) -> pl.Expr:
    return pl.lit(text, dtype=pl.String)


def _text(value: pl.Expr) -> pl.Expr:
    return value.cast(pl.String)


def _quoted(value: pl.Expr) -> pl.Expr:
    return pl.concat_str([_lit("'"), value, _lit("'")])


def _probe(*names: str) -> pl.Expr:
    expr = pl.col(PROBE)
    for name in names:
        expr = expr.struct.field(name)
    return expr


def _bound_rules(value: pl.Expr, bounds: Bounds, path: pl.Expr, shown: pl.Expr) -> list[Rule]:
    rules = []
    for limit, fails, words in (
        (bounds.minimum, lambda v, x: v < x, ">="),
        (bounds.exclusive_minimum, lambda v, x: v <= x, ">"),
        (bounds.maximum, lambda v, x: v > x, "<="),
        (bounds.exclusive_maximum, lambda v, x: v >= x, "<"),
    ):
        if limit is not None:
            reason = pl.concat_str([_lit(f"must be {words} {limit}, got "), shown])
            rules.append(Rule(ErrorKind.SCHEMA, fails(value, limit).fill_null(False), path, reason))
    return rules


def _scalar_rules(name: str, spec: ScalarSpec, required: bool, has_probe: bool) -> list[Rule]:
    path = _lit(json_path([name]))
    typed = pl.col(name)
    value = typed.cast(pl.String) if spec.json_type == "string" else typed
    present_as_text = _probe(name).is_not_null() if has_probe else pl.lit(False)
    rules = []
    if required:
        missing = typed.is_null() & ~present_as_text
        rules.append(Rule(ErrorKind.SCHEMA, missing, path, _lit(f"required field {name!r} is missing")))
    if has_probe:
        wrong = typed.is_null() & present_as_text
        reason = pl.concat_str([_lit(f"must be {spec.json_type}, got "), _probe(name)])
        rules.append(Rule(ErrorKind.SCHEMA, wrong, path, reason))
    shown = _text(typed) if spec.json_type != "string" else _quoted(value)
    if spec.json_type == "integer":
        fractional = (typed != typed.floor()).fill_null(False)
        rules.append(
            Rule(ErrorKind.SCHEMA, fractional, path, pl.concat_str([_lit("must be integer, got "), shown]))
        )
    rules += _bound_rules(typed, spec.bounds, path, shown)
    if spec.enum is not None:
        allowed = list(spec.enum)
        outside = (~value.is_in(allowed)).fill_null(False)
        rules.append(
            Rule(
                ErrorKind.SCHEMA,
                outside,
                path,
                pl.concat_str([_lit(f"must be one of {json.dumps(allowed)}, got "), shown]),
            )
        )
    if spec.pattern is not None:
        mismatch = (~value.str.contains(spec.pattern)).fill_null(False)
        reason = pl.concat_str([_lit(f"must match {spec.pattern}, got "), shown])
        rules.append(Rule(ErrorKind.SCHEMA, mismatch, path, reason))
    length = value.str.len_chars() if spec.json_type == "string" else None
    if length is not None and (spec.min_length is not None or spec.max_length is not None):
        low, high = spec.min_length or 0, spec.max_length
        bad = (length < low) | (length > high if high is not None else pl.lit(False))
        words = f"must have {low} to {high if high is not None else 'any'} characters, got "
        rules.append(
            Rule(ErrorKind.SCHEMA, bad.fill_null(False), path, pl.concat_str([_lit(words), _text(length)]))
        )
    return rules


def _first_index(values: pl.Expr, predicate: pl.Expr) -> pl.Expr:
    """Index of the first element satisfying `predicate` (used on failed rows only)."""
    return values.list.eval(predicate).list.arg_max()


def _array_rules(
    map_name: str, name: str, spec: NumberArraySpec, length_field: str | None, probed: bool
) -> list[Rule]:
    values = pl.col(map_name).struct.field(name)
    path = _lit(json_path([map_name, name]))
    rules = []
    if probed:
        present_as_text = _probe(map_name, name).is_not_null().fill_null(False)
        wrong = values.is_null() & present_as_text
        rules.append(
            Rule(
                ErrorKind.SCHEMA,
                wrong,
                path,
                pl.concat_str([_lit("must be array, got "), _probe(map_name, name)]),
            )
        )
    size = values.list.len()
    high = spec.max_items
    too_few_or_many = (size < spec.min_items) | (size > high if high is not None else pl.lit(False))
    words = f"must have {spec.min_items} to {high if high is not None else 'any'} items, got "
    rules.append(
        Rule(
            ErrorKind.SCHEMA,
            too_few_or_many.fill_null(False),
            path,
            pl.concat_str([_lit(words), _text(size)]),
        )
    )

    def item_path(index: pl.Expr) -> pl.Expr:
        return pl.concat_str([_lit(json_path([map_name, name]) + "["), _text(index), _lit("]")])

    has_null = (values.list.count_matches(None) > 0).fill_null(False)
    null_at = _first_index(values, pl.element().is_null())
    rules.append(
        Rule(
            ErrorKind.SCHEMA,
            has_null,
            item_path(null_at),
            _lit(f"must be {spec.item_type}, got null or another type"),
        )
    )
    if spec.item_type == "integer":
        fractional = (
            values.list.eval((pl.element() != pl.element().floor()).fill_null(False))
            .list.any()
            .fill_null(False)
        )
        at = _first_index(values, pl.element() != pl.element().floor())
        reason = pl.concat_str([_lit("must be integer, got "), _text(values.list.get(at))])
        rules.append(Rule(ErrorKind.SCHEMA, fractional, item_path(at), reason))
    for limit, aggregate, fails, words in (
        (spec.item_bounds.minimum, values.list.min(), lambda v, x: v < x, ">="),
        (spec.item_bounds.exclusive_minimum, values.list.min(), lambda v, x: v <= x, ">"),
        (spec.item_bounds.maximum, values.list.max(), lambda v, x: v > x, "<="),
        (spec.item_bounds.exclusive_maximum, values.list.max(), lambda v, x: v >= x, "<"),
    ):
        if limit is not None:
            at = _first_index(values, fails(pl.element(), limit))
            reason = pl.concat_str([_lit(f"must be {words} {limit}, got "), _text(values.list.get(at))])
            rules.append(
                Rule(ErrorKind.SCHEMA, fails(aggregate, limit).fill_null(False), item_path(at), reason)
            )
    if length_field is not None:
        expected = pl.col(length_field)
        differs = (size != expected).fill_null(False)
        reason = pl.concat_str(
            [
                _lit("has "),
                _text(size),
                _lit(f" values but {length_field} is "),
                _text(expected.cast(pl.Int64)),
            ]
        )
        rules.append(Rule(ErrorKind.SCHEMA, differs, path, reason))
    return rules


def _map_rules(name: str, spec: ArrayMapSpec, frame_schema: pl.Schema, has_probe: bool) -> list[Rule]:
    path = _lit(json_path([name]))
    typed = pl.col(name)
    known = [f.name for f in frame_schema[name].fields]  # type: ignore[attr-defined]
    rules = []
    if has_probe:
        wrong = typed.is_null() & _probe(name).is_not_null()
        rules.append(Rule(ErrorKind.SCHEMA, wrong, path, _lit("must be object, got another type")))
    extra_names: list[str] = []
    probe_fields: list[str] = []
    if has_probe:
        probe_fields = [f.name for f in frame_schema[PROBE].to_schema()[name].fields]  # type: ignore[attr-defined]
        extra_names = [n for n in probe_fields if n not in known and spec.spec_for(n) is None]
    count = pl.sum_horizontal(
        [typed.struct.field(n).is_not_null().cast(pl.Int32) for n in known]
        + [_probe(name, n).is_not_null().fill_null(False).cast(pl.Int32) for n in extra_names]
    )
    high = spec.max_properties
    bad_count = typed.is_not_null() & (
        (count < spec.min_properties) | (count > high if high is not None else pl.lit(False))
    )
    words = f"must have {spec.min_properties} to {high if high is not None else 'any'} properties, got "
    rules.append(Rule(ErrorKind.SCHEMA, bad_count, path, pl.concat_str([_lit(words), _text(count)])))
    for extra in extra_names:
        present = _probe(name, extra).is_not_null().fill_null(False)
        rules.append(
            Rule(
                ErrorKind.SCHEMA,
                present,
                _lit(json_path([name, extra])),
                _lit(f"field {extra!r} is not allowed here"),
            )
        )
    for signal in known:
        array_spec = spec.spec_for(signal)
        if array_spec is not None:
            rules += _array_rules(name, signal, array_spec, spec.same_length_as, signal in probe_fields)
    return rules


def build_rules(plan: PayloadPlan, frame_schema: pl.Schema, *, max_bytes: int) -> list[Rule]:
    """Every rule of `plan`, in the order failures are reported, for a frame from `decode_payloads`."""
    has_probe = PROBE in frame_schema and "_" not in [f.name for f in frame_schema[PROBE].fields]  # type: ignore[attr-defined]
    root = _lit("$")
    rules = [
        Rule(
            ErrorKind.TOO_LARGE,
            pl.col("__too_large"),
            root,
            _lit(f"payload exceeds the limit of {max_bytes} bytes"),
        ),
        Rule(ErrorKind.NOT_JSON, pl.col("__bad_utf8"), root, _lit("payload is not UTF-8 text")),
        Rule(ErrorKind.NOT_JSON, pl.col("__not_json"), root, _lit("payload is not JSON")),
        Rule(ErrorKind.SCHEMA, pl.col("__not_object"), root, _lit("must be object, got another JSON type")),
    ]
    for name in plan.field_order:
        if name in plan.scalars:
            rules += _scalar_rules(name, plan.scalars[name], name in plan.required, has_probe)
        else:
            present = pl.col(name).is_not_null() | (
                _probe(name).is_not_null() if has_probe else pl.lit(False)
            )
            if name in plan.required:
                rules.append(
                    Rule(
                        ErrorKind.SCHEMA,
                        ~present,
                        _lit(json_path([name])),
                        _lit(f"required field {name!r} is missing"),
                    )
                )
            rules += _map_rules(name, plan.maps[name], frame_schema, has_probe)
    if has_probe and not plan.additional_allowed:
        for extra in [f.name for f in frame_schema[PROBE].fields if f.name not in plan.field_order]:  # type: ignore[attr-defined]
            present = _probe(extra).is_not_null().fill_null(False)
            rules.append(
                Rule(
                    ErrorKind.SCHEMA,
                    present,
                    _lit(json_path([extra])),
                    _lit(f"field {extra!r} is not allowed here"),
                )
            )
    rules.append(
        Rule(
            ErrorKind.SCHEMA, pl.col("__unbalanced"), root, _lit("a key holds null or appears more than once")
        )
    )
    return rules


def attribute_reasons(frame: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """`frame` with `error_kind`, `error_path`, `error_reason` (null on valid rows)."""
    invalid = frame.select(pl.any_horizontal([r.fails.fill_null(False) for r in rules])).to_series()
    columns = {"error_kind": pl.String, "error_path": pl.String, "error_reason": pl.String}
    if not invalid.any():
        return frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in columns.items())
    failed = frame.filter(invalid)

    def first(attribute: str) -> pl.Expr:
        chain: Any = pl.when(rules[0].fails.fill_null(False)).then(_value(rules[0], attribute))
        for rule in rules[1:]:
            chain = chain.when(rule.fails.fill_null(False)).then(_value(rule, attribute))
        return chain.otherwise(None)

    reasons = failed.select(
        error_kind=first("kind"), error_path=first("path"), error_reason=first("reason")
    ).with_columns(pl.Series("__at", invalid.arg_true()))
    indexed = frame.with_row_index("__at").join(reasons, on="__at", how="left", maintain_order="left")
    return indexed.drop("__at")


def _value(rule: Rule, attribute: str) -> pl.Expr:
    if attribute == "kind":
        return _lit(str(rule.kind))
    return rule.path if attribute == "path" else rule.reason
