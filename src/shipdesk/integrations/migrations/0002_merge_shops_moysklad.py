from django.db import migrations


class Migration(migrations.Migration):
    """The shop platforms and MoySklad were built side by side, each from an empty app."""

    dependencies = [
        ("integrations", "0001_moysklad_moysklad18"),
        ("integrations", "0001_shops_shops18"),
    ]
    operations: list[migrations.operations.base.Operation] = []
