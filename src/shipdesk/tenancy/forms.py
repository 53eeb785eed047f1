"""Web forms: input shape only. Every rule is checked by the service the view calls."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from shipdesk.tenancy.models import Organization, Role

ORGANIZATION_FORM_FIELDS = [
    "name", "legal_name", "inn", "kpp", "ogrn", "legal_address", "postal_address", "phone",
    "email", "bank_name", "bik", "bank_account", "correspondent_account", "timezone",
]


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ORGANIZATION_FORM_FIELDS

    def _post_clean(self) -> None:
        # Model validation is the service's job (it reports every field at once).
        pass


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Роль"), choices=Role.choices, initial=Role.OPERATOR)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Роль"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Название"), max_length=100)
    role = forms.ChoiceField(label=_("Роль"), choices=Role.choices, initial=Role.OPERATOR)


class AcceptNewUserForm(forms.Form):
    first_name = forms.CharField(label=_("Имя"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Фамилия"), max_length=150, required=False)
    password = forms.CharField(label=_("Пароль"), widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Пароль ещё раз"), widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("Пароли не совпадают"))
        return data


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(label=_("Название организации"), max_length=200)
    owner_email = forms.EmailField(label=_("E-mail владельца"))
    password = forms.CharField(label=_("Пароль владельца"), required=False,
                               widget=forms.PasswordInput(render_value=False),
                               help_text=_("Пусто — сгенерируем и покажем один раз; "
                                           "для существующего пользователя не нужен"))
