"""Tracking's status updates become HOT updates on PostgreSQL.

The (organization, tracking_status) index made every status change rewrite all of the
shipments' indexes. Without it, an update that leaves ``state`` alone touches no index
column, and a fillfactor of 90 leaves room on each page for the new row version.
The fillfactor applies to pages written from now on; ``VACUUM FULL shipments_shipment``
(run at a quiet hour) repacks an existing table with it.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value: int = 90) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE shipments_shipment SET (fillfactor = {value})")


def reset_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE shipments_shipment RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("shipments", "0006_unrated_reason"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="shipment", name="shipment_org_status"),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
