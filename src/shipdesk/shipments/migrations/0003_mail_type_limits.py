"""Russian Post mail types with their acceptance limits (weights in grams, sizes in cm).

Figures are Russian Post's published limits for business senders as commonly applied by
integrators; they are data (MailTypeLimit rows) that an installation may edit."""

from django.db import migrations

# service_code, name, min g, max g, max side, max sum of sides, dims allowed, phone
# required, COD allowed, COD <= declared value, international
RUSSIAN_POST = [
    ("POSTAL_PARCEL", "Посылка нестандартная", 1, 50000, 150, 300, True, True, True, True, False),
    ("ONLINE_PARCEL", "Посылка онлайн", 1, 20000, 60, 140, False, True, True, True, False),
    ("ONLINE_COURIER", "Курьер онлайн", 1, 31500, 60, 140, False, True, True, True, False),
    ("EMS", "EMS", 1, 31500, 150, 300, True, True, True, True, False),
    ("EMS_OPTIMAL", "EMS оптимальное", 1, 31500, 150, 300, True, True, True, True, False),
    ("PARCEL_CLASS_1", "Посылка 1 класса", 1, 2500, 36, 70, True, True, True, True, False),
    ("LETTER", "Письмо заказное", 1, 100, 35, 90, False, False, False, True, False),
    ("LETTER_CLASS_1", "Письмо 1 класса", 1, 500, 35, 90, False, False, False, True, False),
    ("BANDEROL", "Бандероль", 1, 5000, 60, 90, True, False, True, True, False),
    ("BANDEROL_CLASS_1", "Бандероль 1 класса", 1, 2500, 36, 70, True, False, True, True, False),
    ("ECOM", "ЕКОМ", 1, 15000, 60, 140, True, True, True, True, False),
    ("SMALL_PACKET", "Мелкий пакет (международный)", 1, 2000, 60, 90, True, True, False,
     False, True),
    ("EMS_INTERNATIONAL", "EMS международное", 1, 31500, 150, 300, True, True, False, False,
     True),
    ("PARCEL_INTERNATIONAL", "Посылка международная", 1, 20000, 150, 300, True, True, False,
     False, True),
]


def load(apps, schema_editor):
    MailTypeLimit = apps.get_model("shipments", "MailTypeLimit")
    for (code, name, min_g, max_g, side, total, dims, phone, cod, cod_le, intl) in RUSSIAN_POST:
        MailTypeLimit.objects.update_or_create(
            carrier_code="russian_post", service_code=code,
            defaults=dict(name=name, min_weight_g=min_g, max_weight_g=max_g, max_side_cm=side,
                          max_dimensions_sum_cm=total, dimensions_allowed=dims,
                          requires_phone=phone, cod_allowed=cod,
                          cod_within_declared_value=cod_le, international=intl))


def unload(apps, schema_editor):
    apps.get_model("shipments", "MailTypeLimit").objects.filter(
        carrier_code="russian_post", service_code__in=[r[0] for r in RUSSIAN_POST]).delete()


class Migration(migrations.Migration):
    dependencies = [("shipments", "0002_intake")]
    operations = [migrations.RunPython(load, unload)]
