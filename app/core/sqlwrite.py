"""Hot-path writes as SQL statements: prepared once per shape, run in one round trip.

Building SQLAlchemy statements costs more CPU than running them, so a hot path describes
each write once (with named bind parameters), caches it, and passes the values at
execution. On PostgreSQL, data-modifying statements can be the CTEs of a single
statement: a unit of work of N writes is one statement, so one round trip and, run in
autocommit mode, its own transaction (no BEGIN, no COMMIT round trips). The writes run
only when a guard (an UPDATE ... RETURNING of the row the unit is about, checked against
the version that was read) matched that row, so a unit is never half applied. Other
databases (SQLite, in process, where a round trip costs nothing) run the guard and then
the writes one by one inside the caller's transaction.

Keep such a statement under 50 parameters and 4 KB of SQL: psycopg caches its
conversion of those only, and PostgreSQL runs it as a prepared statement. Rows of one
event share their common values (one `now`, one event id) as one parameter, and fixed
values are written into the SQL as constants.

Two traps: column defaults and onupdate functions are not applied inside a CTE (give every
value, created_at, updated_at, ..., explicitly), and a parameter named like a column of a
table the statement writes is taken by SQLAlchemy as an extra value for that column (name
parameters so they never collide: `<prefix><row>_<column>`, `iv_id`, ...).
"""
from __future__ import annotations

import enum
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import (
    JSON,
    String,
    Table,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator


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


def insert_into(table: Table, dialect_name: str, conflict: Sequence[str] | None = None):
    """INSERT into `table`; with `conflict` (the columns of a unique key) a row that
    already exists is skipped (ON CONFLICT DO NOTHING), so a repeated or concurrent write
    of the same event never aborts the caller's transaction."""
    if conflict is None:
        return insert(table)
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - the project runs on PostgreSQL (and SQLite embedded)
        raise ValueError(f"unsupported database {dialect_name!r}: PostgreSQL or SQLite")
    return _OnConflict(dialect_insert(table), list(conflict))


class _OnConflict:
    """A dialect INSERT that adds ON CONFLICT DO NOTHING once its rows are given."""

    def __init__(self, stmt, conflict):
        self._stmt, self._conflict = stmt, conflict

    def values(self, *args, **kwargs):
        return self._stmt.values(*args, **kwargs).on_conflict_do_nothing(
            index_elements=self._conflict)

    def from_select(self, names, select_):
        return self._stmt.from_select(names, select_).on_conflict_do_nothing(
            index_elements=self._conflict)

    def plain(self):
        return self._stmt.on_conflict_do_nothing(index_elements=self._conflict)


def insert_set(connection, table: Table, rows: Sequence[Mapping], *,
               conflict: Sequence[str] | None = None,
               returning: Sequence[str] = ()) -> list:
    """Insert many rows (all with the same keys) on the caller's connection; returns the
    `returning` columns of the rows written.

    On PostgreSQL the rows travel as ONE JSON parameter of a short
    `INSERT ... SELECT ... FROM json_to_recordset(...)`: the driver converts one small
    statement (a multi-row VALUES of 1,000 rows x 14 columns is a 14,000-parameter
    statement psycopg cannot cache and converts anew each time: 40% of a batch's time)
    and PostgreSQL parses it once. Elsewhere, an executemany (SQLAlchemy batches it)."""
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        stmt = insert_into(table, connection.dialect.name, conflict)
        stmt = stmt.plain() if isinstance(stmt, _OnConflict) else stmt
        if returning:
            return connection.execute(stmt.returning(*(table.c[c] for c in returning)),
                                      list(rows)).all()
        connection.execute(stmt, list(rows))
        return []
    dialect = connection.dialect
    rows = rows if isinstance(rows, list) else list(rows)
    names = list(rows[0])
    shared, pooled = _shared_columns(table, rows, names)

    def typed(n: str) -> str:
        return f'"{n}" {_json_type(table.c[n].type, dialect)}'

    columns = ", ".join(f'"{n}"' for n in names)
    if not shared and not pooled:
        sql = (f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
               f"FROM json_to_recordset(%s::json) AS r({', '.join(map(typed, names))})")
        params = [rows]
    else:
        sql, params = _insert_shared(table, rows, names, shared, pooled, typed)
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    # orjson: times (naive ones taken as UTC, as stored), str enums and the rest natively;
    # its UTF-8 bytes go to the driver as they are (decoded to str, the driver would encode
    # them again: megabytes per chunk).
    from psycopg.types.json import Json  # (PostgreSQL only: SQLite needs no psycopg)

    payloads = tuple(Json(orjson.dumps(p, default=_json_default, option=orjson.OPT_NAIVE_UTC),
                          _as_is) for p in params)
    if isinstance(connection, Pipelined):
        cursor = connection.send(sql, payloads)
        return cursor.fetchall() if returning else []  # (a read waits for the pipeline)
    result = connection.exec_driver_sql(sql, payloads)
    return result.all() if returning else []


def _as_is(data: bytes) -> bytes:
    return data


def _insert_shared(table: Table, rows: list, names: list[str], shared: list[str],
                   pooled: list[str], typed) -> tuple[str, list]:
    """The INSERT of insert_set() when some values are sent once: the rows' own values
    (numbered: inserted in their order, as ids follow it), the values every row shares,
    and each JSON value several rows share, joined by its number."""
    own_columns = [n for n in names if n not in shared and n not in pooled]
    keys = [f"_p{i}" for i in range(len(pooled))]
    own = [{n: row[n] for n in own_columns} for row in rows]
    pools = []
    for n, key in zip(pooled, keys, strict=True):
        numbers: dict[int, int] = {}
        values = []
        for own_row, row in zip(own, rows, strict=True):
            value = row[n]
            number = numbers.get(id(value))
            if number is None:
                values.append(value)
                number = numbers[id(value)] = len(values)
            own_row[key] = number
        pools.append(values)
    definitions = [typed(n) for n in own_columns] + [f'"{k}" integer' for k in keys]
    aliases = [f'"{n}"' for n in own_columns] + [f'"{k}"' for k in keys]
    if definitions:
        sources = [f"ROWS FROM (json_to_recordset(%s::json) AS ({', '.join(definitions)}))"
                   f" WITH ORDINALITY AS r({', '.join(aliases)}, _ord)"]
    else:  # every value shared: one element per row all the same
        sources = ["json_array_elements(%s::json) WITH ORDINALITY AS r(_row, _ord)"]
    params: list = [own]
    if shared:
        sources.append(
            f"CROSS JOIN json_to_record(%s::json) AS s({', '.join(map(typed, shared))})")
        params.append({n: rows[0][n] for n in shared})
    for i, (key, values) in enumerate(zip(keys, pools, strict=True)):
        sources.append(f"JOIN json_array_elements(%s::json) WITH ORDINALITY AS p{i}(value, n)"
                       f' ON p{i}.n = r."{key}"')
        params.append(values)
    select_list = []
    for n in names:
        if n in shared:
            select_list.append(f's."{n}"')
        elif n in pooled:
            i = pooled.index(n)
            select_list.append(f"p{i}.value::{typed(n).split(' ', 1)[1]}")
        else:
            select_list.append(f'r."{n}"')
    columns = ", ".join(f'"{n}"' for n in names)
    sql = (f'INSERT INTO "{table.name}" ({columns}) SELECT {", ".join(select_list)} '
           f'FROM {" ".join(sources)} ORDER BY r._ord')
    return sql, params


def _shared_columns(table: Table, rows: list, names: list[str]
                    ) -> tuple[list[str], list[str]]:
    """Of many rows: the columns whose value is the same in every row (sent once, not
    once per row: a chunk's messages share their time, status, counters, ...), and the
    JSON columns whose values are shared by several rows (the same object, in rows next to
    each other: the first two share it), numbered.
    A chunk of a batch sent each of them with every row: a third of the JSON PostgreSQL
    parsed."""
    if len(rows) < 2:
        return [], []
    shared, pooled = [], []
    last = rows[-1]
    for n in names:
        first = rows[0][n]
        if last[n] is first or last[n] == first:
            column = [row[n] for row in rows]
            if column.count(first) == len(column):  # (C loop: identity, then ==)
                shared.append(n)
                continue
        # (the rows sharing a value come together: a decision's messages)
        if isinstance(table.c[n].type, JSON) and rows[1][n] is first:
            column = [row[n] for row in rows]
            # (a JSON null stays a row's own: it is written as NULL)
            if {type(v) for v in column} <= {dict, list} \
                    and len(set(map(id, column))) * 2 <= len(column):
                pooled.append(n)
    return shared, pooled


def _json_type(column_type, dialect) -> str:
    impl = getattr(column_type, "impl", column_type)
    return impl.compile(dialect=dialect)


def _json_default(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a row for a UTC column")
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"no JSON form for {value!r}")


class IdArray(TypeDecorator):
    """A list of integer ids sent as ONE text parameter, `{1,2,3}`, cast to integer[] in
    the SQL: psycopg's list adapter checks every element with a regular expression
    (a millisecond per 1,000 ids, twice per chunk of a batch)."""

    impl = String
    cache_ok = True

    def bind_expression(self, bindvalue):
        from sqlalchemy import Integer
        from sqlalchemy.dialects.postgresql import ARRAY

        return cast(bindvalue, ARRAY(Integer))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return "{" + ",".join(map(str, map(int, value))) + "}"


def id_in(column, ids: Sequence[int], dialect_name: str):
    """`column IN ids` as one array parameter on PostgreSQL (`= ANY(%s)`: one parameter
    the driver converts once, whatever the number of ids), an IN list elsewhere."""
    if dialect_name == "postgresql":
        from sqlalchemy import any_

        return column == any_(bindparam("id_list", list(ids), type_=IdArray()))
    return column.in_(list(ids))


@dataclass(frozen=True, eq=False)
class Write:
    """One INSERT (where is None) or UPDATE of a unit of work. `conflict`: the unique key
    an INSERT skips existing rows on (the table's deduplication, the same on every path)."""
    table: Table
    values: Mapping[str, ColumnElement]
    where: ColumnElement | None = None
    conflict: tuple[str, ...] | None = None

    def statement(self, dialect_name: str = "sqlite") -> UpdateBase:
        if self.where is None:
            return insert_into(self.table, dialect_name, self.conflict).values(
                dict(self.values))
        return update(self.table).where(self.where).values(dict(self.values))

    def guarded_by(self, guard, from_guard: Mapping[str, str]) -> UpdateBase:
        """The same write, done only when the guard CTE returned a row. Parameters named in
        `from_guard` are read from the guard's RETURNING columns instead."""
        if self.where is not None:
            return (update(self.table).where(self.where, exists(select(1).select_from(guard)))
                    .values(dict(self.values)))
        # INSERT ... SELECT ... FROM guard. A parameter in a select list has no column to
        # take its type from: strings arrive as text, which any text column accepts; other
        # parameters are cast to their column's type.
        row = []
        for column, value in self.values.items():
            if isinstance(value, BindParameter):
                if value.key in from_guard:
                    value = guard.c[from_guard[value.key]]
                elif not isinstance(self.table.c[column].type, String):
                    value = cast(value, self.table.c[column].type)
            row.append(value)
        return insert_into(self.table, "postgresql", self.conflict).from_select(
            list(self.values), select(*row).select_from(guard))


def insert_rows(table: Table, rows: int, prefix: str, per_row: Sequence[str],
                shared: Mapping[str, str | ColumnElement] | None = None,
                conflict: Sequence[str] | None = None) -> list[Write]:
    """One INSERT per row. Per-row columns take the parameters `<prefix><row>_<column>`;
    a shared column takes the parameter it names (str) or the SQL expression given
    (constant(...)). (A multi-row VALUES statement has no cache key in SQLAlchemy: it
    would be compiled again on every execution.)"""
    common = {c: bindparam(v, type_=table.c[c].type) if isinstance(v, str) else v
              for c, v in (shared or {}).items()}
    return [Write(table, {
        **{c: bindparam(f"{prefix}{i}_{c}", type_=table.c[c].type) for c in per_row},
        **common}, conflict=tuple(conflict) if conflict else None) for i in range(rows)]


def rows_params(prefix: str, rows: Sequence[dict]) -> dict:
    """The per-row parameters of insert_rows() for these rows."""
    return {f"{prefix}{i}_{c}": v for i, row in enumerate(rows) for c, v in row.items()}


def guarded_unit(guard: UpdateBase, writes: Sequence[Write],
                 from_guard: Mapping[str, str] | None = None):
    """PostgreSQL: `guard` (an UPDATE ... RETURNING meant to match exactly one row) and
    the writes, done only if it did, as one statement returning how many rows the guard
    matched. No write may read another's result. `from_guard` maps parameter names to
    columns the guard returns with the same values (shorter SQL, fewer casts)."""
    guard_cte = guard.cte("g")
    ctes = [w.guarded_by(guard_cte, from_guard or {}).cte(f"w{i}")
            for i, w in enumerate(writes)]
    return select(func.count()).select_from(guard_cte).add_cte(*ctes)


class Prepared:
    """A statement compiled once for one dialect and run on the driver's own cursor.

    On a hot path SQLAlchemy's per-execution bookkeeping costs more than the driver does;
    this keeps what matters of it: the SQL it compiled and its type conversions of
    parameters (JSON, enums, UTC datetimes) and of result columns. PostgreSQL (psycopg)
    only; the driver prepares the statement server-side once it has run a few times.
    """

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._params: list[tuple[str, str, object, object]] = []
        seen = set()
        for bind, name in compiled.bind_names.items():
            if name in seen:
                continue
            seen.add(name)
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            default = bind.value if not bind.required else _REQUIRED
            self._params.append((name, bind.key, default, processor))
        self._columns = None
        if getattr(statement, "selected_columns", None) is not None:
            columns = list(statement.selected_columns)
            self._row = namedtuple("Row", [c.key for c in columns], rename=True)
            self._columns = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                             for c in columns]

    def params(self, values: Mapping[str, object]) -> dict:
        out = {}
        for name, key, default, processor in self._params:
            value = values[key] if key in values else default
            if value is _REQUIRED:
                raise KeyError(f"no value for parameter {key!r}")
            out[name] = processor(value) if processor is not None else value
        return out

    def send(self, pipe: Pipelined, values: Mapping[str, object]) -> None:
        """Send it in a pipeline (a write: its result is not read)."""
        pipe.send(self.sql, self.params(values))

    def first(self, driver_connection, values: Mapping[str, object]):
        """The first result row (a named tuple), or None."""
        with driver_connection.cursor() as cursor:
            cursor.execute(self.sql, self.params(values))
            raw = cursor.fetchone()
        if raw is None:
            return None
        return self._row(*(p(v) if p is not None else v
                           for p, v in zip(self._columns, raw, strict=True)))

    def all(self, driver_connection, values: Mapping[str, object]) -> list[list]:
        """Every result row, as a list in the statement's column order (converted column
        by column: only the columns whose type converts, a handful of 20)."""
        with driver_connection.cursor() as cursor:
            cursor.execute(self.sql, self.params(values))
            rows = [list(raw) for raw in cursor.fetchall()]
        for index, processor in enumerate(self._columns):
            if processor is not None:
                for row in rows:
                    row[index] = processor(row[index])
        return rows


class Pipelined:
    """PostgreSQL: writes sent on the driver's connection in pipeline mode, in the caller's
    transaction. Each statement goes to the server at once, and the caller goes on (builds
    the next one's rows) while it runs; a result read waits for everything sent before it,
    and an error surfaces when the pipeline ends (the caller's transaction then rolls
    back). insert_set() and Prepared.send() take it in place of a connection. Statements
    sent this way bypass SQLAlchemy (and its events)."""

    def __init__(self, connection):
        self.dialect = connection.dialect
        self._driver = connection.connection.driver_connection
        self._cursors: list = []

    def send(self, sql: str, params):
        cursor = self._driver.cursor()
        self._cursors.append(cursor)
        cursor.execute(sql, params)
        return cursor

    def next_ids(self, table: Table, count: int) -> list[int]:
        """`count` new ids of the table's id sequence, ascending (as the rows would have
        taken them, inserted in order)."""
        cursor = self.send("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                           "FROM generate_series(1, %s)", (table.name, count))
        return sorted(row[0] for row in cursor.fetchall())


@contextmanager
def pipelined(connection) -> Iterator[Pipelined]:
    """A Pipelined on this SQLAlchemy connection's driver connection (PostgreSQL)."""
    pipe = Pipelined(connection)
    try:
        with pipe._driver.pipeline():
            yield pipe
    finally:
        for cursor in pipe._cursors:
            cursor.close()


@contextmanager
def autocommit(engine: Engine):
    """A pooled driver connection in autocommit mode (each statement its own transaction),
    back in the pool in its usual mode afterwards; a connection that failed is discarded.
    The calling thread must not hold another pooled connection meanwhile (an open ORM
    session transaction): with a pool of one, it would wait for itself."""
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        yield driver
        driver.autocommit = False
    except engine.dialect.loaded_dbapi.Error:
        pooled.invalidate()
        raise
    except BaseException:
        driver.autocommit = False
        raise
    finally:
        pooled.close()


_REQUIRED = object()
