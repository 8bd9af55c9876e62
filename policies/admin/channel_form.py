"""The channel form: the kind, its credential and its settings.

Secrets are written, never shown back: the credential, and every setting a kind marks
``secret`` (a webhook's extra headers, which often carry an Authorization header). Their inputs
render empty even on a form shown again with errors; on a change, empty keeps the current
value. The kinds' settings are fields named ``setting_<name>``, each input marked with the
kinds it belongs to (``data-kind``), so that ``channel_form.js`` shows only the chosen kind's;
without JavaScript every row shows, and each help text names its kind.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from policies import channels, egress
from policies.channels.base import Field
from policies.models import Channel

SETTING_PREFIX = "setting_"
CLEAR_PREFIX = "clear_"
NO_AUTOFILL = {"autocomplete": "off", "spellcheck": "false"}


def setting_fields() -> dict[str, list[tuple[str, Field]]]:
    """Every kind's settings as form fields: ``setting_<name>`` → the (kind, setting) pairs
    that use that name (usually one; two kinds may share a name)."""
    found: dict[str, list[tuple[str, Field]]] = {}
    for kind in channels.KINDS.values():
        for field in kind.fields:
            found.setdefault(SETTING_PREFIX + field.name, []).append((kind.name, field))
    return found


def setting_rows(channel: Channel | None) -> list[str]:
    """The form's settings rows for this channel (all kinds' when adding), with the "remove"
    box of each secret setting it has a value for."""
    if channel is None or channel.pk is None:
        return list(setting_fields())
    kind = channels.KINDS.get(channel.kind)
    rows: list[str] = []
    for field in kind.fields if kind is not None else ():
        rows.append(SETTING_PREFIX + field.name)
        if field.secret and (channel.settings or {}).get(field.name):
            rows.append(CLEAR_PREFIX + field.name)
    return rows


def credential_help() -> str:
    return " ".join(
        f"{kind.label}: {kind.credential_help}"
        for kind in channels.KINDS.values()
        if kind.credential_label
    )


def as_text(value: Any) -> str:
    """A stored setting as its input shows it (``apply_config`` may store a list)."""
    if isinstance(value, list | tuple):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


class KindSelect(forms.Select):
    """The kinds, each option carrying what its credential is called, for channel_form.js
    (empty: the kind has none, and the credential row is hidden)."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        kind = channels.KINDS.get(str(option["value"]))
        if kind is not None:
            option["attrs"]["data-credential-label"] = kind.credential_label
            option["attrs"]["data-credential-help"] = kind.credential_help
        return option


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one just posted."""

    def format_value(self, value: Any) -> str | None:
        return None


def setting_form_field(owners: list[tuple[str, Field]]) -> forms.CharField:
    label = owners[0][1].label
    secret = any(field.secret for _, field in owners)
    multiline = any(field.multiline for _, field in owners)
    widget: forms.Widget
    if secret:
        widget = (
            WriteOnlyTextarea(attrs={"rows": 3, **NO_AUTOFILL})
            if multiline
            else forms.PasswordInput(render_value=False, attrs={"size": 60, **NO_AUTOFILL})
        )
    else:
        widget = forms.Textarea(attrs={"rows": 3}) if multiline else forms.TextInput()
    widget.attrs["data-kind"] = " ".join(kind for kind, _ in owners)
    return forms.CharField(
        label=label,
        required=False,
        widget=widget,
        help_text=" ".join(
            f"{channels.kind_of(kind).label}: {field.help}" for kind, field in owners
        ),
    )


class ChannelForm(forms.ModelForm[Channel]):
    """The credential is write-only: typed in, validated by the kind, never sent back to the
    browser. On a change, an empty input keeps the current one. The kind's other settings are
    fields of their own; the page shows only the chosen kind's."""

    kind = forms.ChoiceField(
        choices=channels.choices,
        widget=KindSelect,
        help_text="The service it sends to. It cannot change once saved: a credential means what "
        "its kind says.",
    )
    secret = forms.CharField(
        label="Credential",
        required=False,
        # render_value=False: not even a re-displayed form with errors echoes it back.
        widget=forms.PasswordInput(render_value=False, attrs={"size": 60, **NO_AUTOFILL}),
        help_text="A secret, never shown whole after saving. " + credential_help(),
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "secret", "team", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The form must not even hold the credential as initial data: nothing could render it.
        self.initial.pop("secret", None)
        adding = self.instance.pk is None
        current = self.instance.settings or {}
        all_settings = setting_fields()
        for name in setting_rows(None if adding else self.instance):
            if name.startswith(CLEAR_PREFIX):
                continue
            owners = all_settings[name]
            if not adding:  # only its own kind's setting of that name
                owners = [(kind, field) for kind, field in owners if kind == self.instance.kind]
            self.fields[name] = setting_form_field(owners)
            field = owners[0][1]
            value = current.get(field.name) if not adding else None
            if not field.secret:
                self.initial[name] = as_text(value)
            elif value:
                self.fields[name].help_text = (
                    "Set, and hidden: leave empty to keep it, or write it again whole to "
                    "replace it. " + field.help
                )
                self.fields[CLEAR_PREFIX + field.name] = forms.BooleanField(
                    label=f"Remove the {field.label.lower()}",
                    required=False,
                    help_text=f"Tick to save this channel without its {field.label.lower()}.",
                )
        if not adding:
            self.fields["kind"].disabled = True  # a credential means what its kind says
            kind = channels.KINDS.get(self.instance.kind)
            secret = self.fields["secret"]
            if kind is not None:
                secret.label = f"New {kind.credential_label.lower()}"
                secret.help_text = kind.credential_help
            secret.help_text = f"Leave empty to keep the current one. {secret.help_text}"

    def clean_secret(self) -> str:
        new: str = self.cleaned_data["secret"].strip()
        if not new and self.instance.pk is not None:
            return self.instance.secret
        return new

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = channels.KINDS.get(cleaned.get("kind") or self.instance.kind)
        if kind is None:
            return cleaned  # the model names the unknown kind on its field
        current = (self.instance.settings or {}) if self.instance.pk is not None else {}
        settings: dict[str, Any] = {}
        for field in kind.fields:
            value: Any = (cleaned.get(SETTING_PREFIX + field.name) or "").strip()
            if field.secret and not value and not cleaned.get(CLEAR_PREFIX + field.name):
                value = current.get(field.name) or ""
            if value:
                settings[field.name] = value
        self.instance.kind = kind.name
        self.instance.settings = settings
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # the kind's own checks first
        secret = self.instance.secret or ""
        if "://" in secret and "secret" not in self.errors:
            # The address is looked up now, so that one leading into a private network is
            # refused on the form, not only when a message is sent (it is checked then too).
            problem = egress.refused_destination(secret)
            if problem:
                self.add_error("secret", problem)

    def _update_errors(self, errors: ValidationError) -> None:
        # The model (Channel.clean, through the kind) names a setting as the kind does; here
        # its field is setting_<name>. A setting with no field on this form is named in words.
        if hasattr(errors, "error_dict"):
            mapped: dict[str, list[ValidationError | str]] = {}
            for name, found in errors.error_dict.items():
                if name in self.fields or name == NON_FIELD_ERRORS:
                    mapped.setdefault(name, []).extend(found)
                elif SETTING_PREFIX + name in self.fields:
                    mapped.setdefault(SETTING_PREFIX + name, []).extend(found)
                else:
                    said = "; ".join(m for error in found for m in error.messages)
                    mapped.setdefault(NON_FIELD_ERRORS, []).append(f"{name}: {said}")
            errors = ValidationError(mapped)
        super()._update_errors(errors)  # type: ignore[misc]  # not in django-stubs
