"""Hot-path writes as SQL statements: prepared once per shape, run in one round trip.

Building SQLAlchemy statements costs more CPU than running them, so a hot path builds
each statement shape once (with named bind parameters), caches it, and passes the values
at execution. On PostgreSQL, data-modifying statements can be the CTEs of a single
statement, so a unit of work of N independent INSERT/UPDATE statements costs one round
trip instead of N; other databases (SQLite, in process, where a round trip costs
nothing) run them one by one.

Keep such a statement under 50 parameters and 4 KB of SQL: psycopg caches its
conversion of those only, and PostgreSQL then runs it as a prepared statement. Rows of
one event share their common values (one `now`, one event id) as one parameter, and
fixed values are written into the SQL as constants.

Two traps: column defaults and onupdate functions are not applied inside a CTE (give every
value, created_at, updated_at, ..., explicitly), and a parameter named like a column of a
table the statement writes is taken by SQLAlchemy as an extra value for that column (name
parameters so they never collide: `<prefix><row>_<column>`, `iv_id`, ...).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from sqlalchemy import Table, bindparam, func, insert, literal_column, null, select
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.elements import ColumnElement


def constant(value: object) -> ColumnElement:
    """A fixed value written into the SQL text (not a parameter)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return null()
    if isinstance(value, bool):
        return literal_column("true" if value else "false")
    if isinstance(value, int):
        return literal_column(str(value))
    if isinstance(value, str):
        return literal_column("'" + value.replace("'", "''") + "'")
    raise TypeError(f"no SQL constant for {value!r}")


def insert_templates(table: Table, rows: int, prefix: str, per_row: Sequence[str],
                     shared: Mapping[str, str | ColumnElement] | None = None
                     ) -> list[Insert]:
    """One INSERT per row. Per-row columns take the parameters `<prefix><row>_<column>`;
    a shared column takes the parameter it names (str) or the SQL expression given
    (constant(...)). (A multi-row VALUES statement has no cache key in SQLAlchemy: it
    would be compiled again on every execution.)"""
    common = {c: bindparam(v, type_=table.c[c].type) if isinstance(v, str) else v
              for c, v in (shared or {}).items()}
    return [insert(table).values({
        **{c: bindparam(f"{prefix}{i}_{c}", type_=table.c[c].type) for c in per_row},
        **common}) for i in range(rows)]


def rows_params(prefix: str, rows: Sequence[dict]) -> dict:
    """The per-row parameters of insert_templates() for these rows."""
    return {f"{prefix}{i}_{c}": v for i, row in enumerate(rows) for c, v in row.items()}


def together(guard: UpdateBase, statements: Sequence[UpdateBase]):
    """PostgreSQL: `guard` (an UPDATE ... RETURNING meant to match exactly one row) and the
    other statements as one statement, which returns how many rows the guard matched.
    None of the statements may read another's result."""
    writes = [statement.cte(f"w{i}") for i, statement in enumerate(statements)]
    return select(func.count()).select_from(guard.cte("g")).add_cte(*writes)
