"""The models are one SQL for every warehouse: what only DuckDB understands lives in the body
of a `duckdb__` macro behind adapter.dispatch, PostgreSQL's in a `postgres__` one, Spark's in a
`spark__` one (docs/architecture.md, "Engine-specific SQL"). Where engines read a construct
differently (a descending sort's NULLs, `/` on integers, an untyped NULL), the models spell
out what they mean.

The scan reads the SQL a model or macro writes itself: Jinja (macro calls, sets, comments),
SQL comments and string literals are left out, so `{{ median('x') }}` or a comment naming
arg_min is fine, and `arg_min(` written in a model is not.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.settings import DBT_PROJECT_DIR, ENGINES

_DIVISION = "division (rounded_quotient, money_per)"
# The macros whose business is dividing exactly, for everything else.
DIVIDING_MACROS = {"default__rounded_quotient", "default__convert_money"}
# What DuckDB accepts and PostgreSQL or Spark SQL does not, or reads differently.
DUCKDB_ONLY = {
    r"\b(arg_min|arg_max|min_by|max_by)\s*\(": "arg_min/arg_max (first_in_group)",
    r"\b(struct_pack|struct_extract|struct_insert|row)\s*\(": "struct functions",
    r":=": "named struct fields (:=)",
    # A three-part name in a model is a struct field: relations come from ref() and source().
    r"(?<![.\w])\w+\.\w+\.\w+": "struct field access (a.b.c)",
    r"[{}]": "struct or map literals",
    r"\[": "list literals or indexing (json_list_item)",
    r"\bepoch(_ms|_us|_ns)?\s*\(": "epoch functions (epoch_microseconds)",
    r"\b(list|list_\w+|array_(?!agg\b)\w+|flatten|unnest)\s*\(": "list functions and unnest",
    r"->": "lambdas and JSON arrows",
    r"::": ":: casts",
    r"\bjson(_\w+)?\s*\(|\bjson\b": "JSON functions and type (json_texts, json_text_at_key)",
    r"\b(try_)?(strptime|strftime)\s*\(": "strptime/strftime (export_stamp)",
    r"\bregexp_\w+\s*\(": "regular expression functions",
    r"\b(hash|md5|sha1|sha256)\s*\(": "hash functions (dbt.hash)",
    r"\b(datediff|date_diff|datesub|date_sub|date_add|date_trunc|datetrunc)\s*\(": (
        "date functions (dbt.datediff, dbt.dateadd, dbt.date_trunc)"
    ),
    r"\b(date_part|datepart|last_day|make_date|make_timestamp)\s*\(": "date functions",
    r"\b(count_if|countif|median|quantile\w*|any_value|first|last|fsum)\s*\(": (
        "DuckDB aggregates (median)"
    ),
    r"\btry_cast\s*\(": "try_cast (dbt.safe_cast)",
    r"\b(u?hugeint|ubigint|uinteger|usmallint|utinyint|varchar|blob|timestamptz)\b": (
        "DuckDB type names (dbt.type_string(), decimal, bigint)"
    ),
    r"\bqualify\b": "QUALIFY",
    r"\bexclude\b|\*\s*replace\b": "select * EXCLUDE/REPLACE",
    r"\b(group|order)\s+by\s+all\b": "GROUP BY ALL / ORDER BY ALL",
    r"\binterval\b": "INTERVAL literals (dbt.dateadd)",
    r"\bas\s+(not\s+)?materialized\b": "materialized CTEs (materialized_cte)",
    r"//": "integer division //",
    r"==": "== comparisons",
    r"\b(asof|positional|anti|semi)\s+join\b": "DuckDB joins",
    r"\bunion\s+(all\s+)?by\s+name\b": "UNION BY NAME",
    r"\b(pivot|unpivot)\b|\bcolumns\s*\(|\busing\s+sample\b": "PIVOT, COLUMNS(), USING SAMPLE",
    # Read by both, differently: DuckDB sorts NULLs last either way, PostgreSQL first in DESC;
    # DuckDB's `/` never truncates, PostgreSQL's does on integers; a bare NULL is text to
    # PostgreSQL, so a union with a date column fails.
    r"\bdesc\b(?!\s+nulls\s+(first|last)\b)": "DESC without NULLS FIRST/LAST",
    r"(?<![/*])/(?![/*])": _DIVISION,
    r"(?<!\()\bnull\s+as\s+\w": "an untyped NULL column (cast(null as <type>))",
}
_PATTERNS = [(re.compile(pattern, re.IGNORECASE), what) for pattern, what in DUCKDB_ONLY.items()]
_MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\(.*?-?%\}(.*?)\{%-?\s*endmacro\s*-?%\}", re.DOTALL)
_DISPATCH = re.compile(r"adapter\.dispatch\(\s*'(\w+)'\s*,\s*'thrivecart_ltv'\s*\)")
# The engines the project builds on (ENGINES), each with its own implementations of dispatched
# macros.
ENGINE_PREFIXES = tuple(f"{engine}__" for engine in ENGINES)
# PostgreSQL cuts longer names, and dbt refuses to create such a relation.
POSTGRES_MAX_IDENTIFIER = 63


def _blank(text: str) -> str:
    """Same length, newlines kept: line numbers stay right."""
    return re.sub(r"[^\n]", " ", text)


def _jinja_end(text: str, start: int) -> int:
    """Where the Jinja tag opening at `start` ends: its closing `}}`, `%}` or `#}` outside
    the tag's quoted strings and dict braces (`config(meta={'a': {'b': 1}})`)."""
    close = {"{": "}}", "%": "%}", "#": "#}"}[text[start + 1]]
    i, depth = start + 2, 0
    while i < len(text):
        if close == "#}" and text.startswith(close, i):
            return i + 2
        if close != "#}":
            if text[i] in "'\"":
                quote_end = text.find(text[i], i + 1)
                i = len(text) if quote_end < 0 else quote_end + 1
                continue
            if depth == 0 and text.startswith(close, i):
                return i + 2
            depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return len(text)


def written_sql(text: str) -> str:
    """The SQL of `text` without Jinja, SQL comments and the content of string literals."""
    # Jinja first, as dbt renders it before any SQL is read.
    out, i = [], 0
    while i < len(text):
        if text.startswith(("{{", "{%", "{#"), i):
            end = _jinja_end(text, i)
            out.append(_blank(text[i:end]))
            i = end
        else:
            out.append(text[i])
            i += 1
    text, out, i = "".join(out), [], 0
    while i < len(text):
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(_blank(text[i:end]))
            i = end
        elif text[i] == "'":
            end = i + 1
            while end < len(text):
                if text.startswith("''", end):
                    end += 2
                elif text[end] == "'":
                    break
                else:
                    end += 1
            out.append("'" + _blank(text[i + 1 : end]) + "'")
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def duckdb_only_usages(text: str, first_line: int = 1) -> list[tuple[int, str, str]]:
    """(line, the line's SQL, what it uses) for every DuckDB-only construct in `text`."""
    found = []
    for number, line in enumerate(written_sql(text).splitlines(), start=first_line):
        for pattern, what in _PATTERNS:
            if pattern.search(line):
                found.append((number, line.strip(), what))
    return found


def _report(path: Path, usages: list[tuple[int, str, str]]) -> list[str]:
    relative = path.relative_to(DBT_PROJECT_DIR)
    return [f"{relative}:{line}: {what}: {sql}" for line, sql, what in usages]


def test_models_and_data_tests_write_no_duckdb_only_sql() -> None:
    models = sorted((DBT_PROJECT_DIR / "models").rglob("*.sql"))
    data_tests = sorted((DBT_PROJECT_DIR / "tests").rglob("*.sql"))
    assert len(models) > 40 and data_tests
    problems = [
        problem
        for path in models + data_tests
        for problem in _report(path, duckdb_only_usages(path.read_text()))
    ]
    assert not problems, (
        "DuckDB-only SQL in a model or data test: put it in a dispatched macro "
        "(macros/cross_database.sql, duckdb__<name>):\n" + "\n".join(problems)
    )


def test_macros_keep_duckdb_only_sql_in_duckdb_implementations() -> None:
    problems, duckdb_macros = [], 0
    for path in sorted((DBT_PROJECT_DIR / "macros").rglob("*.sql")):
        text = path.read_text()
        for match in _MACRO.finditer(text):
            if match.group(1).startswith(ENGINE_PREFIXES):
                duckdb_macros += match.group(1).startswith("duckdb__")
                continue
            first_line = text.count("\n", 0, match.start(2)) + 1
            usages = duckdb_only_usages(match.group(2), first_line)
            if match.group(1) in DIVIDING_MACROS:
                usages = [usage for usage in usages if usage[2] != _DIVISION]
            problems += _report(path, usages)
    assert duckdb_macros >= 10
    assert not problems, "DuckDB-only SQL outside a duckdb__ macro:\n" + "\n".join(problems)


def _macro_names() -> set[str]:
    return {
        match.group(1)
        for path in (DBT_PROJECT_DIR / "macros").rglob("*.sql")
        for match in _MACRO.finditer(path.read_text())
    }


def test_every_engine_has_an_implementation_of_every_dispatched_macro() -> None:
    """A macro with a `duckdb__` body and no `default__` needs one for every other engine,
    or the build on that engine stops at the first model that calls it."""
    names = _macro_names()
    dispatched = {
        name
        for path in (DBT_PROJECT_DIR / "macros").rglob("*.sql")
        for name in _DISPATCH.findall(path.read_text())
    }
    assert len(dispatched) >= 10
    missing = [
        f"{engine}__{name}"
        for name in sorted(dispatched)
        if f"default__{name}" not in names
        for engine in ENGINES
        if f"{engine}__{name}" not in names
    ]
    assert not missing, "dispatched macros without an implementation: " + ", ".join(missing)


def test_model_and_unit_test_names_fit_postgres_identifiers() -> None:
    """dbt names a relation after a model, and a unit test's temporary one after the test."""
    names = [path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")]
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        names += [test["name"] for test in yaml.safe_load(path.read_text()).get("unit_tests", [])]
    assert len(names) > 70
    too_long = [name for name in names if len(name) > POSTGRES_MAX_IDENTIFIER]
    assert not too_long, f"names over {POSTGRES_MAX_IDENTIFIER} characters: {too_long}"


def test_the_scan_reads_only_the_sql_a_file_writes() -> None:
    model = """-- arg_min( in a comment is fine
{#- so is struct_pack( in Jinja -#}
select
    {{ median('days') }} as days,
    'list(' as label,
    arg_min(a, b) as first_a,
    cast(x as varchar) as y,
    x::date as d,
    row_number() over (order by a desc, b desc nulls last) as n,
    a / b as q,
    null as nothing,
    cast(null as date) as no_date
from t
"""
    assert [(line, what) for line, _, what in duckdb_only_usages(model)] == [
        (6, "arg_min/arg_max (first_in_group)"),
        (7, "DuckDB type names (dbt.type_string(), decimal, bigint)"),
        (8, ":: casts"),
        (9, "DESC without NULLS FIRST/LAST"),
        (10, _DIVISION),
        (11, "an untyped NULL column (cast(null as <type>))"),
    ]
