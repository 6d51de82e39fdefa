"""The schema invariants the Citus plan in docs/scaling.md relies on, read from the
catalog of the migrated database (not from the models), with the plan's own
``create_distributed_table`` / ``create_reference_table`` statements as the one
source of which table is which.

Namespace-owned tables are the ones distributed by ``namespace_id``; a table may be
distributed by another column (``rate_limit_buckets`` by key) only in a co-location
group of its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PLAN = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
DISTRIBUTION_COLUMN = "namespace_id"
LOCAL_TABLES = {"alembic_version"}  # stays on the coordinator


@dataclass(frozen=True)
class Distributed:
    table: str
    column: str
    colocate_with: str | None


@dataclass(frozen=True)
class Plan:
    reference: list[str]
    distributed: list[Distributed]

    @property
    def distributed_tables(self) -> set[str]:
        return {d.table for d in self.distributed}

    def column_of(self, table: str) -> str:
        return next(d.column for d in self.distributed if d.table == table)

    def groups(self) -> list[set[str]]:
        """Co-location groups, in statement order; each starts with ``'none'``."""
        groups: list[set[str]] = []
        for entry in self.distributed:
            if entry.colocate_with == "none":
                groups.append({entry.table})
                continue
            target = entry.colocate_with
            matches = [g for g in groups if target is not None and target in g]
            assert matches, f"{entry.table}: colocate_with an earlier table or 'none'"
            assert self.column_of(str(target)) == entry.column, entry
            matches[0].add(entry.table)
        return groups

    def group_of(self, table: str) -> set[str]:
        return next(g for g in self.groups() if table in g)


def read_plan(markdown: str) -> Plan:
    reference = re.findall(r"create_reference_table\('(\w+)'\)", markdown)
    distributed = [
        Distributed(table, column, colocate or None)
        for table, column, colocate in re.findall(
            r"create_distributed_table\('(\w+)',\s*'(\w+)'"
            r"(?:,\s*colocate_with\s*=>\s*'(\w+)')?\)",
            markdown,
        )
    ]
    return Plan(reference, distributed)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return read_plan(PLAN.read_text())


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # p, u, f
    table: str
    columns: tuple[str, ...]
    referenced: str | None
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class IndexInfo:
    name: str
    table: str
    unique: bool
    columns: tuple[str | None, ...]  # key columns; None for an expression


_COLUMNS = """ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum ORDER BY k.n)"""


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            )
        )
        return {str(name) for (name,) in rows}


async def constraints(engine: AsyncEngine) -> list[Constraint]:
    sql = f"""
        SELECT con.conname, con.contype::text, rel.relname, ref.relname,
               {_COLUMNS.format(keys="con.conkey", rel="con.conrelid")},
               {_COLUMNS.format(keys="con.confkey", rel="con.confrelid")}
        FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = rel.relnamespace
        LEFT JOIN pg_class ref ON ref.oid = con.confrelid
        WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
    """
    async with engine.connect() as conn:
        rows = await conn.execute(text(sql))
        return [Constraint(r[0], r[1], r[2], tuple(r[4]), r[3], tuple(r[5])) for r in rows]


async def indexes(engine: AsyncEngine) -> list[IndexInfo]:
    sql = """
        SELECT i.relname, t.relname, ix.indisunique,
               ARRAY(SELECT a.attname
                     FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                     LEFT JOIN pg_attribute a
                       ON a.attrelid = ix.indrelid AND a.attnum = k.attnum AND k.attnum <> 0
                     WHERE k.n <= ix.indnkeyatts ORDER BY k.n)
        FROM pg_index ix
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN pg_class t ON t.oid = ix.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema()
    """
    async with engine.connect() as conn:
        rows = await conn.execute(text(sql))
        return [IndexInfo(r[0], r[1], r[2], tuple(r[3])) for r in rows]


def test_the_plan_lists_tables_and_statements(plan: Plan) -> None:
    assert plan.reference, "no create_reference_table statements in docs/scaling.md"
    assert plan.distributed, "no create_distributed_table statements in docs/scaling.md"


async def test_the_plan_names_every_table_exactly_once(engine: AsyncEngine, plan: Plan) -> None:
    named = plan.reference + [d.table for d in plan.distributed]
    assert len(named) == len(set(named)), f"named twice: {named}"
    assert set(named) == await tables(engine) - LOCAL_TABLES


async def test_namespace_owned_tables_are_one_colocation_group(
    engine: AsyncEngine, plan: Plan
) -> None:
    owned = {d.table for d in plan.distributed if d.column == DISTRIBUTION_COLUMN}
    assert {"buckets", "sync_configs"} <= owned
    for group in plan.groups():
        assert group == owned or not group & owned, f"{group} mixes distribution columns"
        columns = {plan.column_of(table) for table in group}
        async with engine.connect() as conn:
            types = await conn.execute(
                text(
                    "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "WHERE a.attrelid = ANY(CAST(:tables AS regclass[])) "
                    "AND a.attname = ANY(:columns) AND NOT a.attisdropped"
                ),
                {"tables": sorted(group), "columns": sorted(columns)},
            )
            found = [str(t) for (t,) in types]
        assert len(found) == len(group), f"a table of {group} lacks its distribution column"
        assert len(set(found)) == 1, f"co-located tables need one column type: {found}"


async def test_keys_and_indexes_of_distributed_tables_lead_with_the_distribution_column(
    engine: AsyncEngine, plan: Plan
) -> None:
    distributed = plan.distributed_tables
    keys = [c for c in await constraints(engine) if c.table in distributed and c.kind in "pu"]
    assert {c.table for c in keys if c.kind == "p"} == distributed, "a primary key is missing"
    for constraint in keys:
        assert constraint.columns[0] == plan.column_of(constraint.table), constraint
    for index in await indexes(engine):
        if index.table in distributed:
            assert index.columns[0] == plan.column_of(index.table), index


async def test_foreign_keys_stay_in_a_namespace_or_point_at_reference_tables(
    engine: AsyncEngine, plan: Plan
) -> None:
    distributed, reference = plan.distributed_tables, set(plan.reference)
    foreign_keys = [c for c in await constraints(engine) if c.kind == "f"]
    assert foreign_keys
    for fk in foreign_keys:
        if fk.referenced in distributed:
            # Only between co-located tables, distribution column to distribution column.
            assert fk.table in plan.group_of(fk.referenced), f"{fk.name}: not co-located"
            column = plan.column_of(fk.referenced)
            pairs = dict(zip(fk.columns, fk.referenced_columns, strict=True))
            assert pairs.get(column) == column, fk
        else:
            assert fk.referenced in reference, f"{fk.name} points at {fk.referenced}"


def test_the_checks_catch_a_plan_that_breaks_the_rules() -> None:
    """The parser reads what the rules test, and a plan that does not co-locate is
    refused."""
    broken = read_plan(
        "SELECT create_distributed_table('buckets', 'namespace_id', colocate_with => 'none');\n"
        "SELECT create_distributed_table('sync_configs', 'namespace_id');\n"
    )
    assert [(d.table, d.column, d.colocate_with) for d in broken.distributed] == [
        ("buckets", "namespace_id", "none"),
        ("sync_configs", "namespace_id", None),
    ]
    with pytest.raises(AssertionError, match="colocate_with"):
        broken.groups()
