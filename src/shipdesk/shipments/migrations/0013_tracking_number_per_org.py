# Tracking numbers unique per organization (docs/tracking-numbers.md): the new constraint
# first, then the global one goes, so that no moment is without one.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('carriers', '0002_exchange_log_webhook_token'),
        ('shipments', '0012_import_mapping_import14'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='shipment',
            constraint=models.UniqueConstraint(fields=('tracking_number', 'organization'),
                                               name='shipment_tracking_number_per_org'),
        ),
        migrations.RemoveConstraint(
            model_name='shipment',
            name='shipment_tracking_number',
        ),
    ]
