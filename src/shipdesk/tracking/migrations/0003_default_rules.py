from django.db import migrations

# Defaults from domain.md §8.2 and the tracking brief; shops and installations override
# them with more specific rows (per carrier, mail type, route, organization).
DEFAULTS = [
    # carrier, mail type, storage days, stuck days, note
    ("", "", 30, 7, "по умолчанию"),
    ("russian_post", "", 30, 7, "Почта России: посылки — 30 дней хранения"),
    ("russian_post", "EMS", 30, 5, "Почта России: EMS"),
    ("cdek", "", 7, 5, "СДЭК: бесплатное хранение в ПВЗ (уточняется keep_free_until)"),
]


def seed(apps, schema_editor):
    TrackingRule = apps.get_model("tracking", "TrackingRule")
    for carrier, mail_type, storage, stuck, note in DEFAULTS:
        TrackingRule.objects.create(carrier_code=carrier, mail_type=mail_type,
                                    storage_days=storage, stuck_days=stuck, note=note)


def unseed(apps, schema_editor):
    apps.get_model("tracking", "TrackingRule").objects.filter(organization=None).delete()


class Migration(migrations.Migration):
    dependencies = [("tracking", "0002_event_store")]
    operations = [migrations.RunPython(seed, unseed)]
