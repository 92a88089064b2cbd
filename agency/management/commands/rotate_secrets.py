"""Re-encrypt every EncryptedTextField value with the first of FERNET_KEYS.

Key rotation: put the new key first in FERNET_KEYS (keep the old one after it), deploy, run this,
then drop the old key. Safe to run again: a value already under the first key is re-encrypted
under it once more.
"""

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.db.models.functions import Cast

from agency.crypto import EncryptedTextField, rotate


def encrypted_fields() -> dict[type[models.Model], list[EncryptedTextField]]:
    """Every concrete model with an encrypted column, and those columns."""
    found = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found[model] = fields
    return found


def _rotate_batch(*, model, fields, after, batch_size: int) -> tuple[object, int, int]:
    """Rotate one batch of rows with pk > after; returns (last pk, rows seen, values rotated)."""
    # Cast to a plain TextField reads the stored ciphertext instead of the decrypted value.
    raw = {f"_raw_{f.attname}": Cast(f.attname, output_field=models.TextField()) for f in fields}
    qs = model._base_manager.order_by("pk")
    if after is not None:
        qs = qs.filter(pk__gt=after)
    # The row lock keeps a concurrent token refresh from being overwritten with the old value.
    rows = list(qs.select_for_update().annotate(**raw).values("pk", *raw)[:batch_size])
    rotated = 0
    for row in rows:
        changes = {}
        for field in fields:
            stored = row[f"_raw_{field.attname}"]
            if not stored:
                continue
            try:
                new = rotate(stored)
            except InvalidToken as exc:
                raise CommandError(
                    f"{model._meta.label}.{field.name} of {row['pk']} cannot be decrypted with "
                    "any of FERNET_KEYS; put the key that wrote it back and run again."
                ) from exc
            # A plain-text Value is written as is; the field itself would encrypt it again.
            changes[field.attname] = models.Value(new, output_field=models.TextField())
        if changes:
            model._base_manager.filter(pk=row["pk"]).update(**changes)
            rotated += len(changes)
    return (rows[-1]["pk"] if rows else after), len(rows), rotated


def secrets_rotate(*, batch_size: int = 500, stdout=None) -> dict[str, int]:
    """Re-encrypt every stored secret under the first key, one transaction per batch.

    Returns the number of values rotated per "app_label.Model.field" group.
    """
    counts: dict[str, int] = {}
    for model, fields in encrypted_fields().items():
        label = f"{model._meta.label}.{','.join(f.name for f in fields)}"
        after, rows_total, rotated_total = None, 0, 0
        while True:
            with transaction.atomic():
                after, rows, rotated = _rotate_batch(
                    model=model, fields=fields, after=after, batch_size=batch_size
                )
            rows_total += rows
            rotated_total += rotated
            if rows < batch_size:
                break
        counts[label] = rotated_total
        if stdout is not None:
            stdout.write(f"{label}: {rotated_total} values rotated in {rows_total} rows\n")
    return counts


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first of FERNET_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size=500, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        counts = secrets_rotate(batch_size=batch_size, stdout=self.stdout)
        self.stdout.write(f"Total: {sum(counts.values())} values rotated.")
