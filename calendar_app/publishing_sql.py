"""The publish path's two hot statements, one round trip each, on PostgreSQL.

A publish used to cost five statements and two ORM compilations per target: the claim (UPDATE),
a SELECT with three joined models and two EXISTS annotations, and then BEGIN, the final UPDATE,
the attempt INSERT and COMMIT. Compiling that SELECT alone took about a third of a worker's CPU
per publish (see BENCHMARKS.md). Here:

- `claim_and_load`: the claim (`queued -> publishing`, the same conditional UPDATE as `_move`)
  and everything the publish reads come back from one `WITH claimed AS (UPDATE ... RETURNING *)
  SELECT ... JOIN ...`. The SQL text is built once per process from the models' metadata, and
  the rows become model instances through Django's own field converters (encrypted tokens, JSON,
  UUIDs), so the instances are the ones the ORM would have built.
- `settle_and_record`: the move out of `publishing` and the attempt row in one
  `WITH moved AS (UPDATE ... RETURNING id) INSERT ... SELECT FROM moved`: one statement is atomic
  on its own, so both are written or neither, without a transaction's BEGIN and COMMIT.

Everything else (SQLite in `make run`, other databases) takes the ORM path in publishing.py,
which means the same thing. The tests run both: PostgreSQL in CI, SQLite in the embedded tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.db import connection
from django.db.models import Model

from agency.models import Brand, SocialAccount
from calendar_app.models import Post, PostTarget, PublishAttempt, TargetState


def available() -> bool:
    return connection.vendor == "postgresql"


def _converters(model: type[Model]) -> list[tuple[str, list, object]]:
    """Per concrete field: (attname, the converters Django applies when it reads the column,
    the column expression they expect)."""
    table = model._meta.db_table
    out = []
    for field in model._meta.concrete_fields:
        col = field.get_col(table)
        convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        out.append((field.attname, convs, col))
    return out


@functools.cache
def _loaders() -> dict:
    return {model: _converters(model) for model in (PostTarget, Post, SocialAccount, Brand)}


def _instance(model: type[Model], values: Iterable):
    converted = []
    for (_, convs, col), value in zip(_loaders()[model], values, strict=True):
        for convert in convs:
            value = convert(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [a for a, _, _ in _loaders()[model]], converted)


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)


@functools.cache
def _claim_sql() -> str:
    t = PostTarget._meta
    target_media = PostTarget.media_override.through._meta
    post_media = Post.media.through._meta
    # Identifiers come from the models' metadata; every value is a parameter.
    return (
        f'WITH claimed AS (UPDATE "{t.db_table}" SET "state" = %s, '  # noqa: S608
        f'"lease_expires_at" = %s, '
        f'"attempts" = "attempts" + 1, "updated_at" = %s WHERE "id" = %s AND "state" = %s '
        f"RETURNING *) "
        f"SELECT {_columns(PostTarget, 't')}, {_columns(Post, 'p')}, "
        f"{_columns(SocialAccount, 'a')}, {_columns(Brand, 'b')}, "
        f'EXISTS (SELECT 1 FROM "{target_media.db_table}" m WHERE m."posttarget_id" = t."id"), '
        f'EXISTS (SELECT 1 FROM "{post_media.db_table}" pm WHERE pm."post_id" = t."post_id") '
        f'FROM claimed t JOIN "{Post._meta.db_table}" p ON p."id" = t."post_id" '
        f'JOIN "{SocialAccount._meta.db_table}" a ON a."id" = t."account_id" '
        f'JOIN "{Brand._meta.db_table}" b ON b."id" = p."brand_id"'
    )


def _prep(model: type[Model], name: str, value):
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def claim_and_load(target_id, *, now, lease_until) -> PostTarget | None:
    """`queued -> publishing` and the target with its post, brand and account; None if another
    worker (or a cancel) moved it first."""
    params = [
        TargetState.PUBLISHING,
        _prep(PostTarget, "lease_expires_at", lease_until),
        _prep(PostTarget, "updated_at", now),
        _prep(PostTarget, "id", target_id),
        TargetState.QUEUED,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    widths = [len(_loaders()[m]) for m in (PostTarget, Post, SocialAccount, Brand)]
    parts, start = [], 0
    for width in widths:
        parts.append(row[start : start + width])
        start += width
    target = _instance(PostTarget, parts[0])
    post = _instance(Post, parts[1])
    account = _instance(SocialAccount, parts[2])
    brand = _instance(Brand, parts[3])
    Post.brand.field.set_cached_value(post, brand)
    PostTarget.post.field.set_cached_value(target, post)
    PostTarget.account.field.set_cached_value(target, account)
    target.has_media_override, target.has_post_media = row[start], row[start + 1]
    return target


@functools.cache
def _attempt_fields() -> list:
    return [f for f in PublishAttempt._meta.concrete_fields if not f.primary_key]


@functools.cache
def _settle_sql(field_names: tuple[str, ...]) -> str:
    t = PostTarget._meta
    assignments = ", ".join(f'"{t.get_field(name).column}" = %s' for name in field_names)
    columns = ", ".join(f'"{f.column}"' for f in _attempt_fields())
    values = ", ".join("moved.id" if f.name == "target" else "%s" for f in _attempt_fields())
    # Identifiers come from the models' metadata; every value is a parameter.
    return (
        f'WITH moved AS (UPDATE "{t.db_table}" SET {assignments} '  # noqa: S608
        f'WHERE "id" = %s AND "state" = %s RETURNING "id") '
        f'INSERT INTO "{PublishAttempt._meta.db_table}" ({columns}) '
        f'SELECT {values} FROM moved RETURNING "id"'
    )


def settle_and_record(target_id, *, frm: str, fields: dict, attempt: PublishAttempt) -> bool:
    """Move the target from `frm` with `fields` (plain values) and insert `attempt`, in one
    statement. False, with nothing written, if the target had already left `frm`."""
    sql = _settle_sql(tuple(fields))
    params = [_prep(PostTarget, name, value) for name, value in fields.items()]
    params += [_prep(PostTarget, "id", target_id), frm]
    params += [
        f.get_db_prep_save(getattr(attempt, f.attname), connection)
        for f in _attempt_fields()
        if f.name != "target"
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    attempt.pk = row[0]
    attempt._state.adding = False
    return True
