from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.backends.ddl_references import Statement, Table
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel


class State(models.TextChoices):
    """The back-office lifecycle. The carrier's view of the parcel is ``tracking_status``."""

    DRAFT = "draft", _("Черновик")
    READY = "ready", _("Проверено")  # validated and rated
    NUMBERED = "numbered", _("Номер присвоен")
    IN_BATCH = "in_batch", _("В партии")
    HANDED_OVER = "handed_over", _("Передано перевозчику")
    DELIVERED = "delivered", _("Вручено")
    RETURNED = "returned", _("Возвращено")
    LOST = "lost", _("Утеряно")
    CANCELLED = "cancelled", _("Отменено")


# The allowed transitions, as data (django-oscar's pipeline): services check every change
# against it and write a ShipmentEvent.
TRANSITIONS: dict[str, frozenset[str]] = {
    State.DRAFT: frozenset({State.READY, State.CANCELLED}),
    State.READY: frozenset({State.DRAFT, State.NUMBERED, State.CANCELLED}),
    State.NUMBERED: frozenset({State.IN_BATCH, State.HANDED_OVER, State.CANCELLED}),
    State.IN_BATCH: frozenset({State.NUMBERED, State.HANDED_OVER, State.CANCELLED}),
    State.HANDED_OVER: frozenset({State.DELIVERED, State.RETURNED, State.LOST}),
    State.DELIVERED: frozenset({State.RETURNED}),  # a "delivered" that was in fact returned
    State.RETURNED: frozenset(),
    State.LOST: frozenset({State.DELIVERED, State.RETURNED}),  # found after all
    State.CANCELLED: frozenset(),
}
EDITABLE_STATES = frozenset({State.DRAFT, State.READY})
FINAL_STATES = frozenset({State.DELIVERED, State.RETURNED, State.LOST, State.CANCELLED})


class Registration(models.TextChoices):
    """The shipment's standing at its carrier (beside the back-office ``State``)."""

    NONE = "", _("Не передавалось")  # no carrier account, a draft, or not yet due
    PENDING = "pending", _("Передаётся перевозчику")
    REGISTERED = "registered", _("Зарегистрировано у перевозчика")
    REJECTED = "rejected", _("Отклонено перевозчиком")
    CANCELLED = "cancelled", _("Отменено у перевозчика")


class SenderProfile(TenantModel):
    """A warehouse / return address of the organization."""

    name = models.CharField(_("название"), max_length=200)
    contact_name = models.CharField(_("контактное лицо"), max_length=200, blank=True)
    company = models.CharField(_("организация"), max_length=300, blank=True)
    phone = models.CharField(_("телефон"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    index = models.CharField(_("индекс"), max_length=6)
    region = models.CharField(_("регион"), max_length=200, blank=True)
    district = models.CharField(_("район"), max_length=200, blank=True)
    city = models.CharField(_("населённый пункт"), max_length=200)
    street = models.CharField(_("улица"), max_length=200, blank=True)
    house = models.CharField(_("дом"), max_length=50, blank=True)
    building = models.CharField(_("корпус/строение"), max_length=50, blank=True)
    apartment = models.CharField(_("квартира/офис"), max_length=50, blank=True)
    # the post office (index) or courier point the parcels are handed over at; empty: the
    # sender's own index
    drop_off_point = models.CharField(_("место сдачи"), max_length=64, blank=True)
    is_default = models.BooleanField(_("по умолчанию"), default=False)

    class Meta:
        verbose_name = _("адрес отправителя")
        verbose_name_plural = _("адреса отправителей")

    def __str__(self) -> str:
        return self.name


class DeliveryRule(TenantModel):
    """One of the organization's rules choosing the carrier for a shipment that names none:
    the first active rule (by position) whose conditions all hold gives the carrier account
    and, when set, the service. An empty condition holds for every parcel."""

    class Delivery(models.TextChoices):
        ANY = "", _("любая")
        PICKUP = "pickup", _("в пункт выдачи")
        DOOR = "door", _("до двери / в отделение")

    class Cod(models.TextChoices):
        ANY = "", _("любой")
        WITH = "with", _("с наложенным платежом")
        WITHOUT = "without", _("без наложенного платежа")

    class Destination(models.TextChoices):
        ANY = "", _("любое")
        DOMESTIC = "domestic", _("по России")
        INTERNATIONAL = "international", _("за рубеж")

    name = models.CharField(_("название"), max_length=200)
    position = models.PositiveIntegerField(_("порядок"), default=0)
    is_active = models.BooleanField(_("действует"), default=True)
    # conditions
    index_prefixes = models.CharField(
        _("индексы получателя начинаются с"), max_length=500, blank=True,
        help_text=_("через запятую, напр. 101,102,190 — Москва и Петербург"))
    min_weight_g = models.PositiveIntegerField(_("вес от, г"), null=True, blank=True)
    max_weight_g = models.PositiveIntegerField(_("вес до, г"), null=True, blank=True)
    cod = models.CharField(_("наложенный платёж"), max_length=10, choices=Cod.choices,
                           blank=True, default=Cod.ANY)
    delivery = models.CharField(_("доставка"), max_length=10, choices=Delivery.choices,
                                blank=True, default=Delivery.ANY)
    destination = models.CharField(_("направление"), max_length=16, choices=Destination.choices,
                                   blank=True, default=Destination.ANY)
    # conditions on the order: where it came from, what it is worth (declared value, else
    # cash on delivery, else its items)
    sources = models.CharField(_("откуда заказ"), max_length=300, blank=True,
                               help_text=_("через запятую: api, upload, insales, bitrix, "
                                           "shopscript, amocrm, shop_webhook, moysklad"))
    min_value = models.DecimalField(_("сумма заказа от"), max_digits=12, decimal_places=2,
                                    null=True, blank=True)
    max_value = models.DecimalField(_("сумма заказа до"), max_digits=12, decimal_places=2,
                                    null=True, blank=True)
    # the choice
    carrier_account = models.ForeignKey("carriers.CarrierAccount", on_delete=models.CASCADE,
                                        related_name="+", verbose_name=_("договор"))
    service_code = models.CharField(_("вид отправления / тариф"), max_length=64, blank=True)
    # the other actions: each fills only what the order left empty
    default_weight_g = models.PositiveIntegerField(_("вес по умолчанию, г"), null=True,
                                                   blank=True)
    default_length_cm = models.PositiveIntegerField(_("длина упаковки, см"), null=True,
                                                    blank=True)
    default_width_cm = models.PositiveIntegerField(_("ширина упаковки, см"), null=True,
                                                   blank=True)
    default_height_cm = models.PositiveIntegerField(_("высота упаковки, см"), null=True,
                                                    blank=True)
    # extra services: carriers.names.OPTIONS keys -> true
    options = models.JSONField(_("доп. услуги"), default=dict, blank=True)
    # declared value (insurance) = the order's value when the order gives none
    insure = models.BooleanField(_("объявленная ценность = сумма заказа"), default=False)
    sender = models.ForeignKey(SenderProfile, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("отправитель"))
    # None: as the notification settings say; a list: only these channels ([] = none)
    notify_channels = models.JSONField(_("уведомления получателю"), null=True, blank=True)

    class Meta:
        verbose_name = _("правило выбора перевозчика")
        verbose_name_plural = _("правила выбора перевозчика")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class PrefixSearchIndex(models.Index):
    """An index for a case-insensitive prefix search (``istartswith``) on the last of its
    fields, after the others, in the form each database can use for it: Django's
    ``istartswith`` is ``UPPER(col::text) LIKE UPPER(%s)`` on PostgreSQL, served by
    ``UPPER(col) text_pattern_ops`` whatever the collation; on SQLite it is ``col LIKE %s``,
    served by ``col COLLATE NOCASE``. Made from the model's state, so SQLite's table
    rebuilds (which recreate the indexes the state lists) keep it."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "",
                   **kwargs: Any) -> Statement:
        quote = schema_editor.quote_name
        *leading, last = (quote(model._meta.get_field(name).column)
                          for name, _order in self.fields_orders)
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            prefix = f"UPPER({last}::text) text_pattern_ops"
        elif vendor == "sqlite":
            prefix = f"{last} COLLATE NOCASE"
        else:
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        return Statement("CREATE INDEX %(name)s ON %(table)s (%(columns)s)",
                         name=quote(self.name), table=Table(model._meta.db_table, quote),
                         columns=", ".join([*leading, prefix]))


class Shipment(TenantModel):
    # Every index is paid for on each of the 100,000 rows of an import: single-column
    # indexes that the organization-first indexes below already serve (organization,
    # created_at, state, carrier) or low-cardinality ones no query uses are left out.
    # No database-level FK constraint to the organization either, as for tracking's tables:
    # its per-row check was a sixth of an import's insert cost, every row takes its
    # organization from the actor in the services, and rows go with their organization
    # through the ORM's cascade. (The sender's constraint stays: a sender profile can be
    # deleted under a running import.)
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+",
        verbose_name=_("организация"), db_index=False, db_constraint=False)
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    order_number = models.CharField(_("номер заказа"), max_length=64)
    state = models.CharField(_("состояние"), max_length=20, choices=State.choices,
                             default=State.DRAFT)
    sender = models.ForeignKey(SenderProfile, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="shipments", verbose_name=_("отправитель"))
    carrier_code = models.CharField(_("перевозчик"), max_length=32, blank=True)
    carrier_account = models.ForeignKey("carriers.CarrierAccount", on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="+",
                                        db_index=False)  # partial index below
    service_code = models.CharField(_("вид отправления / тариф"), max_length=64, blank=True)
    mail_category = models.CharField(_("категория"), max_length=64, blank=True)

    # recipient
    recipient_surname = models.CharField(_("фамилия"), max_length=100, blank=True)
    recipient_given_name = models.CharField(_("имя"), max_length=100, blank=True)
    recipient_patronymic = models.CharField(_("отчество"), max_length=100, blank=True)
    recipient_company = models.CharField(_("организация получателя"), max_length=300, blank=True)
    recipient_phone = models.CharField(_("телефон"), max_length=20, blank=True)
    recipient_email = models.EmailField(_("e-mail"), blank=True)
    country = models.CharField(_("страна"), max_length=2, default="RU")
    index = models.CharField(_("индекс"), max_length=12, blank=True)
    region = models.CharField(_("регион"), max_length=200, blank=True)
    district = models.CharField(_("район"), max_length=200, blank=True)
    city = models.CharField(_("населённый пункт"), max_length=200, blank=True)
    street = models.CharField(_("улица"), max_length=200, blank=True)
    house = models.CharField(_("дом"), max_length=50, blank=True)
    building = models.CharField(_("корпус/строение"), max_length=50, blank=True)
    apartment = models.CharField(_("квартира/офис"), max_length=50, blank=True)
    pickup_point_code = models.CharField(_("пункт выдачи"), max_length=64, blank=True)
    address_as_given = models.CharField(_("адрес, как указан"), max_length=500, blank=True)

    # parcel
    weight_g = models.PositiveIntegerField(_("вес, г"), null=True, blank=True)
    length_cm = models.PositiveIntegerField(_("длина, см"), null=True, blank=True)
    width_cm = models.PositiveIntegerField(_("ширина, см"), null=True, blank=True)
    height_cm = models.PositiveIntegerField(_("высота, см"), null=True, blank=True)
    declared_value = models.DecimalField(_("объявленная ценность"), max_digits=12,
                                         decimal_places=2, default=Decimal("0"),
                                         validators=[MinValueValidator(Decimal("0"))])
    cod_amount = models.DecimalField(_("наложенный платёж"), max_digits=12, decimal_places=2,
                                     default=Decimal("0"),
                                     validators=[MinValueValidator(Decimal("0"))])
    options = models.JSONField(_("доп. услуги"), default=dict, blank=True)
    comment = models.CharField(_("комментарий"), max_length=500, blank=True)

    # rating
    shipping_cost = models.DecimalField(_("стоимость доставки"), max_digits=12,
                                        decimal_places=2, null=True, blank=True)
    rate_breakdown = models.JSONField(default=list, blank=True)
    # why a shipment that should be priced is not (no sender address, no tariff, ...)
    unrated_reason = models.CharField(_("почему не рассчитана"), max_length=300, blank=True)
    delivery_days_min = models.PositiveSmallIntegerField(null=True, blank=True)
    delivery_days_max = models.PositiveSmallIntegerField(null=True, blank=True)

    # numbering and the carrier's side
    # unique through Meta's constraint: a field's unique=True would also give PostgreSQL a
    # second, pattern-matching index that no lookup uses (numbers are searched exactly).
    # NULL, not "": the many shipments not yet numbered must not clash in it.
    tracking_number = models.CharField(_("трек-номер"), max_length=32, null=True,  # noqa: DJ001
                                       blank=True)
    carrier_order_id = models.CharField(max_length=64, blank=True)
    # why our pools gave no number (no pool, none of the kind the destination needs, spent)
    numbering_error = models.CharField(_("почему без номера"), max_length=300, blank=True)
    # registration with the carrier (due work: ``register_due_at`` is when to send it next)
    registration = models.CharField(_("у перевозчика"), max_length=12,
                                    choices=Registration.choices, blank=True,
                                    default=Registration.NONE)
    registration_error = models.CharField(_("ответ перевозчика"), max_length=1000, blank=True)
    registration_attempts = models.PositiveSmallIntegerField(default=0)
    # the carrier's batch the parcel entered at registration (carriers that number there)
    carrier_batch_id = models.CharField(max_length=200, blank=True)
    register_due_at = models.DateTimeField(null=True, blank=True)

    # written by the tracking domain (through shipments services)
    tracking_status = models.CharField(_("статус доставки"), max_length=32, blank=True)
    tracking_substatus = models.CharField(max_length=64, blank=True)
    tracking_status_at = models.DateTimeField(null=True, blank=True)

    # idempotent intake: which upload (and which row) made this shipment
    source = models.CharField(max_length=32, blank=True)  # api, upload, webhook, trigger, ui
    source_ref = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("отправление")
        verbose_name_plural = _("отправления")
        constraints = [
            models.UniqueConstraint(fields=["organization", "order_number"],
                                    name="shipment_order_number_per_org"),
            # Unique within an organization, not across them: another organization typing
            # (or claiming a range holding) our numbers must never block ours. The number
            # leads, so a lookup by number alone is served too. docs/tracking-numbers.md
            models.UniqueConstraint(fields=["tracking_number", "organization"],
                                    name="shipment_tracking_number_per_org"),
        ]
        # Every index is paid on each of a big upload's rows: only those a query uses.
        indexes = [
            # the list's date filter (and statistics by day)
            models.Index(fields=["organization", "-created_at", "-id"]),
            # keyset paging of the list (id < last seen), whole and by state
            models.Index(fields=["organization", "-id"], name="shipment_org_id_desc"),
            models.Index(fields=["organization", "state", "-id"], name="shipment_org_state_id"),
            # the list's phone filter and search
            models.Index(fields=["organization", "recipient_phone"], name="shipment_org_phone"),
            # set only once a carrier account takes the parcel: imported rows (all NULL)
            # pay no index entry for it
            models.Index(fields=["carrier_account"], name="shipment_carrier_account",
                         condition=models.Q(carrier_account__isnull=False)),
            # the registration sweep's due rows only
            models.Index(fields=["register_due_at"], name="shipment_register_due",
                         condition=models.Q(register_due_at__isnull=False)),
            # the search box's surname prefix (istartswith)
            PrefixSearchIndex(fields=["organization", "recipient_surname"],
                              name="shipment_org_surname_prefix"),
            # No index holds tracking_status/_substatus/_status_at: tracking rewrites them on
            # every status change, and with no index on them (and free room on the page, see
            # migration 0009's fillfactor) PostgreSQL makes those updates HOT, touching no index.
        ]

    def __str__(self) -> str:
        return self.order_number

    @property
    def recipient_name(self) -> str:
        name = " ".join(p for p in (self.recipient_surname, self.recipient_given_name,
                                    self.recipient_patronymic) if p)
        return name or self.recipient_company


class ShipmentItem(models.Model):
    # No database-level FK constraint: its check locked each new shipment's row again at
    # commit (a sixth of an import's storing). Items are only written by the shipments
    # services, in the transaction that writes (or locks) their shipment, and go with it
    # through the ORM's cascade.
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="items",
                                 db_constraint=False)
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("наименование"), max_length=500)
    article = models.CharField(_("артикул"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("количество"), default=1)
    unit_price = models.DecimalField(_("цена за единицу"), max_digits=12, decimal_places=2)
    weight_g = models.PositiveIntegerField(_("вес, г"), default=0)
    vat_rate = models.SmallIntegerField(_("НДС, %"), null=True, blank=True)
    hs_code = models.CharField(_("код ТН ВЭД"), max_length=10, blank=True)
    origin_country = models.CharField(_("страна происхождения"), max_length=2, blank=True)

    class Meta:
        ordering = ["position", "pk"]


class ShipmentEvent(models.Model):
    """The history of a shipment: every state change with who, when and why."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             related_name="+", db_index=False)
    api_key = models.ForeignKey("tenancy.ApiKey", on_delete=models.SET_NULL, null=True,
                                related_name="+", db_index=False)
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        # An import's "created" events have neither a user nor a key (the system runs
        # it): partial indexes give those rows no entries (deleting a user or a key still
        # finds its events by index).
        indexes = [
            models.Index(fields=["user"], name="shipmentevent_user",
                         condition=models.Q(user__isnull=False)),
            models.Index(fields=["api_key"], name="shipmentevent_api_key",
                         condition=models.Q(api_key__isnull=False)),
            # the hand-overs of closed batches only: tracking's ingest asks, for every
            # parcel the carrier now shows accepted, whether a batch counted it already
            # (analytics), and must not read each parcel's history to learn it
            models.Index(fields=["shipment"], name="shipmentevent_batch_handover",
                         condition=models.Q(from_state="in_batch", to_state="handed_over")),
        ]


class MailTypeLimit(models.Model):
    """A carrier's mail type (or tariff) with its acceptance limits, as data: a shop or the
    installation operator edits these rows, the validation reads them."""

    carrier_code = models.CharField(_("перевозчик"), max_length=32)
    service_code = models.CharField(_("вид отправления / тариф"), max_length=64)
    name = models.CharField(_("название"), max_length=200)
    min_weight_g = models.PositiveIntegerField(_("мин. вес, г"), default=1)
    max_weight_g = models.PositiveIntegerField(_("макс. вес, г"))
    max_side_cm = models.PositiveIntegerField(_("макс. сторона, см"), null=True, blank=True)
    max_dimensions_sum_cm = models.PositiveIntegerField(_("макс. сумма сторон, см"), null=True,
                                                        blank=True)
    dimensions_allowed = models.BooleanField(_("размеры допустимы"), default=True)
    requires_phone = models.BooleanField(_("нужен телефон получателя"), default=True)
    cod_allowed = models.BooleanField(_("наложенный платёж возможен"), default=True)
    cod_within_declared_value = models.BooleanField(
        _("НП не больше объявленной ценности"), default=True)
    international = models.BooleanField(_("международное"), default=False)

    class Meta:
        verbose_name = _("вид отправления")
        verbose_name_plural = _("виды отправлений")
        constraints = [models.UniqueConstraint(fields=["carrier_code", "service_code"],
                                               name="mail_type_limit_unique")]

    def __str__(self) -> str:
        return f"{self.carrier_code}:{self.service_code}"


class PostalOffice(models.Model):
    """One office of Russian Post's published index directory (PIndx), loaded by
    ``shipdesk import-postal-index``. Shared by all organizations."""

    index = models.CharField(_("индекс"), max_length=6, primary_key=True)
    name = models.CharField(_("название"), max_length=200, blank=True)
    office_type = models.CharField(_("тип"), max_length=20, blank=True)
    parent_index = models.CharField(_("вышестоящее"), max_length=6, blank=True)
    region = models.CharField(_("регион"), max_length=200, blank=True)
    autonomy = models.CharField(_("автономия"), max_length=200, blank=True)
    area = models.CharField(_("район"), max_length=200, blank=True)
    city = models.CharField(_("город"), max_length=200, blank=True)
    city_1 = models.CharField(_("населённый пункт"), max_length=200, blank=True)
    actual_date = models.DateField(_("дата записи"), null=True, blank=True)
    old_index = models.CharField(_("прежний индекс"), max_length=6, blank=True)

    class Meta:
        verbose_name = _("почтовое отделение")
        verbose_name_plural = _("почтовые отделения")

    def __str__(self) -> str:
        return f"{self.index} {self.name}"


class ImportJob(TenantModel):
    """One uploaded spreadsheet: its hash (a second upload of the same file creates
    nothing), its progress and the rows it rejected."""

    class Status(models.TextChoices):
        PENDING = "pending", _("В очереди")
        RUNNING = "running", _("Обрабатывается")
        DONE = "done", _("Готово")
        FAILED = "failed", _("Ошибка")

    class Mode(models.TextChoices):
        VALID_ROWS = "valid_rows", _("Взять верные строки")
        ALL_OR_NOTHING = "all_or_nothing", _("Всё или ничего")

    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    filename = models.CharField(_("файл"), max_length=300)
    file_hash = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    mode = models.CharField(_("режим"), max_length=20, choices=Mode.choices,
                            default=Mode.VALID_ROWS)
    status = models.CharField(_("статус"), max_length=20, choices=Status.choices,
                              default=Status.PENDING)
    mapping = models.JSONField(default=dict, blank=True)  # column index -> field
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)  # already imported before
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{row, column, field, message}]
    message = models.CharField(max_length=1000, blank=True)
    error_report = models.FileField(upload_to="imports/reports/%Y/%m/", max_length=300,
                                    blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    # the unit of each weight column ({column index: "kg" | "g"}), as told by its header,
    # its values or the operator on the preview
    units = models.JSONField(default=dict, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # «Загрузить» pressed
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    unnumbered_count = models.PositiveIntegerField(default=0)  # stored without a number
    # every rejected row's error (file row, field, message) as CSV: ``errors`` keeps the first
    error_list = models.FileField(upload_to="imports/reports/%Y/%m/", max_length=300,
                                  blank=True)

    class Meta:
        verbose_name = _("загрузка файла")
        verbose_name_plural = _("загрузки файлов")
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.filename

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in (self.Status.DONE, self.Status.FAILED) else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class ImportMapping(TenantModel):
    """How an organization's file of a given header set is read: the field of each column
    (or none) and the unit of its weights, as the operator confirmed it on the preview;
    offered again on the next upload of the same headers."""

    headers_key = models.CharField(max_length=64)  # sha256 of the normalised headers
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # column index -> field ("" = not loaded)
    units = models.JSONField(default=dict, blank=True)  # column index -> "kg" | "g"

    class Meta:
        verbose_name = _("сопоставление колонок")
        verbose_name_plural = _("сопоставления колонок")
        constraints = [models.UniqueConstraint(fields=["organization", "headers_key"],
                                               name="import_mapping_unique_headers")]

    def __str__(self) -> str:
        return ", ".join(str(h) for h in self.headers)[:100]
