"""The domain's periodic job row (tracking's "accepted" feed → marks used), due now."""

from django.db import migrations


def create(apps, schema_editor):
    from django.utils import timezone

    apps.get_model("postage", "PostageJob").objects.get_or_create(
        name="tracking_feed", defaults={"due_at": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [("postage", "0001_initial_postage20")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
