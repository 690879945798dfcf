"""The dbt docs page, made in process from the last build's manifest and the warehouse
catalog: the catalog equals the one `dbt docs generate` writes for the same warehouse (here on
DuckDB; tests/test_dbt_postgres.py compares PostgreSQL's), and the page embeds both documents.
The browser test opens the page `ltv run` wrote.
"""

from __future__ import annotations

import json

import pytest
from test_dbt_support import dbt_target, load_landing, run_dbt, settings_for

from pipeline import dbt_docs
from pipeline.dbt_artifacts import build_manifest_path, keep_build_files
from pipeline.dbt_catalog import catalog
from pipeline.settings import Settings

BUILD = ("build", "--exclude", "resource_type:unit_test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse built from empty raw tables (every relation and column exists), its build's
    manifest kept as the dbt asset keeps it."""
    settings = settings_for(tmp_path_factory.mktemp("docs"))
    load_landing(settings)
    run_dbt(settings, *BUILD)
    keep_build_files(settings, dbt_target(settings, "build"))
    return settings


def test_the_catalog_is_the_one_dbt_docs_generate_writes(built: Settings) -> None:
    run_dbt(built, "docs", "generate")
    theirs = json.loads((dbt_target(built, "docs") / "catalog.json").read_text())
    manifest = json.loads(build_manifest_path(built).read_text())

    ours = dbt_docs.read_catalog(built, manifest)

    assert len(theirs["nodes"]) > 50 and len(theirs["sources"]) == 7
    assert ours["nodes"] == theirs["nodes"]
    assert ours["sources"] == theirs["sources"]
    assert ours["errors"] is None and theirs["errors"] is None
    assert set(ours["metadata"]) == set(theirs["metadata"])


def test_the_page_embeds_the_build_manifest_and_the_catalog(built: Settings) -> None:
    path = dbt_docs.write_dbt_docs(built)

    page = path.read_text()
    manifest_text = build_manifest_path(built).read_text()
    assert path == dbt_docs.default_docs_path(built)
    assert manifest_text in page
    assert '"MANIFEST.JSON INLINE DATA"' not in page and '"CATALOG.JSON INLINE DATA"' not in page
    assert '"unique_id": "model.thrivecart_ltv.dim_customers"' in page  # from the catalog
    compiled = json.loads(manifest_text)["nodes"]["model.thrivecart_ltv.dim_customers"]
    assert compiled["compiled_code"]  # the build's SQL, shown on the model's page


def test_a_mark_inside_a_document_is_not_replaced() -> None:
    """A description quoting the template's mark must not pull the catalog into the manifest."""
    manifest_text = json.dumps({"description": '"CATALOG.JSON INLINE DATA"'})
    page = dbt_docs.docs_page(manifest_text, {"nodes": {}})
    assert manifest_text in page and page.count('{"nodes": {}}') == 1


def test_catalog_keeps_only_the_projects_relations() -> None:
    manifest = {
        "metadata": {"invocation_id": "i"},
        "nodes": {
            "model.p.kept": _node("model", "Marts", "Kept"),
            "model.p.ephemeral": _node("model", "marts", "ephemeral", "ephemeral"),
            "test.p.t": _node("test", "marts", "t"),
        },
        "sources": {"source.p.raw.s": {"database": "ltv", "schema": "raw", "identifier": "s"}},
    }
    rows = [
        ("LTV", "marts", "kept", "BASE TABLE", None, "b", 2, "INTEGER", None, None),
        ("LTV", "marts", "kept", "BASE TABLE", None, "a", 1, "VARCHAR", None, None),
        ("ltv", "marts", "ephemeral", "VIEW", None, "a", 1, "VARCHAR", None, None),
        ("ltv", "marts", "t", "BASE TABLE", None, "a", 1, "VARCHAR", None, None),
        ("ltv", "marts", "unknown", "BASE TABLE", None, "a", 1, "VARCHAR", None, None),
    ]

    result = catalog(manifest, rows, "1.11.16")

    assert list(result["nodes"]) == ["model.p.kept"] and result["sources"] == {}
    columns = result["nodes"]["model.p.kept"]["columns"]
    assert columns["a"] == {"type": "VARCHAR", "index": 1, "name": "a", "comment": None}
    assert result["nodes"]["model.p.kept"]["metadata"]["database"] == "LTV"


def _node(kind: str, schema: str, alias: str, materialized: str = "table") -> dict[str, object]:
    return {
        "resource_type": kind,
        "database": "ltv",
        "schema": schema,
        "alias": alias,
        "config": {"materialized": materialized},
    }


def test_no_build_yet_says_what_to_do(pipeline_settings: Settings) -> None:
    with pytest.raises(dbt_docs.DocsUnavailable, match="Materialize the dbt models"):
        dbt_docs.write_dbt_docs(pipeline_settings)
