from django.db import migrations

# Russian Post keeps parcels and other items (EMS included) 15 days at the office, written
# correspondence (letters, banderols) 30 days (domain.md §8.2). The rows are data: an
# installation or a shop overrides them with more specific rows.
RULES = [
    # carrier, mail type, storage days, stuck days, note
    ("russian_post", "", 15, 7, "Почта России: посылки и прочие отправления — 15 дней хранения"),
    ("russian_post", "EMS", 15, 5, "Почта России: EMS — 15 дней хранения"),
    ("russian_post", "LETTER", 30, None, "Почта России: письма — 30 дней хранения"),
    ("russian_post", "LETTER_CLASS_1", 30, None, "Почта России: письма 1 класса — 30 дней"),
    ("russian_post", "BANDEROL", 30, None, "Почта России: бандероли — 30 дней хранения"),
    ("russian_post", "BANDEROL_CLASS_1", 30, None, "Почта России: бандероли 1 класса — 30 дней"),
]
BEFORE = {("russian_post", ""): 30, ("russian_post", "EMS"): 30}


def forward(apps, schema_editor):
    TrackingRule = apps.get_model("tracking", "TrackingRule")
    for carrier, mail_type, storage, stuck, note in RULES:
        TrackingRule.objects.update_or_create(
            organization=None, carrier_code=carrier, mail_type=mail_type, route="",
            defaults={"storage_days": storage, "stuck_days": stuck, "note": note})


def backward(apps, schema_editor):
    TrackingRule = apps.get_model("tracking", "TrackingRule")
    for carrier, mail_type, *_rest in RULES:
        rows = TrackingRule.objects.filter(organization=None, carrier_code=carrier,
                                           mail_type=mail_type, route="")
        if (carrier, mail_type) in BEFORE:
            rows.update(storage_days=BEFORE[(carrier, mail_type)])
        else:
            rows.delete()


class Migration(migrations.Migration):
    dependencies = [("tracking", "0005_lean_state_indexes")]
    operations = [migrations.RunPython(forward, backward)]
