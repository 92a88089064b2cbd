# The inbox's order (latest activity first, never-written-in last, then newest) matched by an
# index, so a page of it is read in order instead of sorting every conversation of the brand.
# The old (brand, status, -last_message_at) index sorted NULLs first, so it could filter but
# not order; the new one with the status serves every filter it did.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0003_webhook_drain"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("brand"),
                models.OrderBy(models.F("last_message_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("created_at"), descending=True),
                name="inbox_brand_latest",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                models.F("brand"),
                models.F("status"),
                models.OrderBy(models.F("last_message_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("created_at"), descending=True),
                name="inbox_brand_status_latest",
            ),
        ),
        migrations.RemoveIndex(model_name="conversation", name="inbox_brand_status"),
    ]
