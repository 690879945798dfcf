"""The warehouse catalog of the dbt docs page (dbt's `catalog.json`), read in process.

`dbt docs generate` starts dbt a second time, parses and compiles the whole project, and then
runs one catalog query: 5–8 s for what is one query and some reshaping. The rows here come
from the queries dbt's own adapters run (dbt-duckdb's `duckdb__get_catalog`, dbt-postgres's
`postgres__get_catalog_relations`), and `catalog()` shapes them as dbt does;
tests/test_dbt_docs.py checks the result against dbt's own catalog.json on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# The columns of a catalog row, in both queries' order.
CATALOG_COLUMNS = (
    "table_database",
    "table_schema",
    "table_name",
    "table_type",
    "table_comment",
    "column_name",
    "column_index",
    "column_type",
    "column_comment",
    "table_owner",
)

DUCKDB_CATALOG_SQL = """
with tables as (
    select database_name, schema_name, table_name, 'BASE TABLE' as table_type, comment
    from duckdb_tables()
    union all
    select database_name, schema_name, view_name, 'VIEW', comment
    from duckdb_views()
)
select t.database_name, t.schema_name, t.table_name, t.table_type, t.comment,
    c.column_name, c.column_index, c.data_type, c.comment, null
from tables t
join duckdb_columns() c using (database_name, schema_name, table_name)
where t.database_name = current_database() and list_contains(?, lower(t.schema_name))
order by t.schema_name, t.table_name, c.column_index
"""

POSTGRES_CATALOG_SQL = """
select current_database(), sch.nspname, tbl.relname,
    case tbl.relkind when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW'
        else 'BASE TABLE' end,
    tbl_desc.description, col.attname, col.attnum,
    pg_catalog.format_type(col.atttypid, col.atttypmod), col_desc.description,
    pg_get_userbyid(tbl.relowner)
from pg_catalog.pg_namespace sch
join pg_catalog.pg_class tbl on tbl.relnamespace = sch.oid
join pg_catalog.pg_attribute col on col.attrelid = tbl.oid
left join pg_catalog.pg_description tbl_desc
    on tbl_desc.objoid = tbl.oid and tbl_desc.objsubid = 0
left join pg_catalog.pg_description col_desc
    on col_desc.objoid = tbl.oid and col_desc.objsubid = col.attnum
where lower(sch.nspname) = any(?)
    and not pg_is_other_temp_schema(sch.oid)
    and tbl.relpersistence in ('p', 'u')
    and tbl.relkind in ('r', 'v', 'f', 'p', 'm')
    and col.attnum > 0
    and not col.attisdropped
order by sch.nspname, tbl.relname, col.attnum
"""

# What dbt says of a table it has no statistics for (every table, on both engines).
NO_STATS = {
    "has_stats": {
        "id": "has_stats",
        "label": "Has Stats?",
        "value": False,
        "include": False,
        "description": "Indicates whether there are statistics for this table",
    }
}
_RELATIONAL = {"model", "seed", "snapshot"}


def catalog_schemas(manifest: Mapping[str, Any]) -> list[str]:
    """The schemas the project's relations live in (lower case), for the catalog queries."""
    return sorted({key[1] for key in _relations(manifest)})


def catalog(
    manifest: Mapping[str, Any], rows: Iterable[Sequence[Any]], dbt_version: str
) -> dict[str, Any]:
    """dbt's catalog.json from the catalog query's rows: one entry per model, seed, snapshot
    and source of `manifest` that exists in the warehouse."""
    tables: dict[tuple[str, ...], dict[str, Any]] = {}
    for values in rows:
        row = dict(zip(CATALOG_COLUMNS, values, strict=True))
        key = _key(row["table_database"], row["table_schema"], row["table_name"])
        table = tables.setdefault(key, _table(row))
        table["columns"][row["column_name"]] = {
            "type": row["column_type"],
            "index": int(row["column_index"]),
            "name": row["column_name"],
            "comment": row["column_comment"],
        }
    entries: dict[str, dict[str, Any]] = {"nodes": {}, "sources": {}}
    for key, (kind, unique_id) in _relations(manifest).items():
        if key in tables:
            entries[kind][unique_id] = {**tables[key], "unique_id": unique_id}
    now = datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z"
    metadata = {
        "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
        "dbt_version": dbt_version,
        "generated_at": now,
        "invocation_id": manifest["metadata"].get("invocation_id"),
        "invocation_started_at": manifest["metadata"].get("invocation_started_at"),
        "env": {},
    }
    return {"metadata": metadata, **entries, "errors": None}


def _key(database: Any, schema: Any, name: Any) -> tuple[str, ...]:
    return tuple(str(part).lower() for part in (database, schema, name))


def _table(row: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {
        "type": row["table_type"],
        "schema": row["table_schema"],
        "name": row["table_name"],
        "database": row["table_database"],
        "comment": row["table_comment"],
        "owner": row["table_owner"],
    }
    return {"metadata": metadata, "columns": {}, "stats": NO_STATS}


def _relations(manifest: Mapping[str, Any]) -> dict[tuple[str, ...], tuple[str, str]]:
    """(database, schema, identifier) → ("nodes" or "sources", unique id), as dbt matches
    catalog tables to the manifest."""
    relations = {}
    for unique_id, node in manifest["nodes"].items():
        relational = node["resource_type"] in _RELATIONAL
        if relational and node["config"].get("materialized") != "ephemeral":
            key = _key(node["database"], node["schema"], node["alias"])
            relations[key] = ("nodes", unique_id)
    for unique_id, source in manifest["sources"].items():
        key = _key(source["database"], source["schema"], source["identifier"])
        relations[key] = ("sources", unique_id)
    return relations
