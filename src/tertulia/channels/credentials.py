"""What each channel kind needs to talk to its provider, checked for shape when saved and kept
encrypted (Channel.credentials_encrypted, under the installation's key). Never returned by the API:
`ChannelOut.credentials_set` says which are set."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tertulia.channels.models import Channel
from tertulia.kit.crypto import SecretBox
from tertulia.kit.errors import Invalid

# `format: password` in the JSON Schema: the web app's form (built from it) hides what is typed.
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=1024, pattern=r"^\S+$"),
                   Field(json_schema_extra={"format": "password"})]
NumericId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{5,32}$")]
E164 = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9]\d{6,14}$")]


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhatsAppCloudCredentials(Credentials):
    """Meta's WhatsApp Cloud API: the phone number and account ids, a (system user) access token,
    and the app secret that signs webhooks."""

    phone_number_id: NumericId
    waba_id: NumericId
    access_token: Secret
    app_secret: Secret


class YCloudCredentials(Credentials):
    """YCloud: its API key, the business number in E.164, the WhatsApp account id, and the webhook
    endpoint's signing secret."""

    api_key: Secret
    phone_number: E164
    waba_id: NumericId
    signing_secret: Secret


class MessengerCredentials(Credentials):
    """Messenger (a Facebook Page): the page id, a page access token, the app secret that signs
    webhooks, and (recommended) the Meta app's id: echoes of the page's messages sent from that
    app are Tertulia's own sends, any other app's (or none) a person's from Meta Business Suite."""

    page_id: NumericId
    page_access_token: Secret
    app_secret: Secret
    app_id: NumericId | None = None


class InstagramCredentials(Credentials):
    """Instagram (a professional account): its id, an access token, the app secret and (as for
    Messenger) the Meta app's id."""

    instagram_account_id: NumericId
    access_token: Secret
    app_secret: Secret
    app_id: NumericId | None = None

    @property
    def page_id(self) -> str:  # the Send API's object id (the account stands where a page does)
        return self.instagram_account_id

    @property
    def page_access_token(self) -> str:
        return self.access_token


class ApiChannelCredentials(Credentials):
    """The generic `api` channel: the secret that signs what it POSTs to its outbound URL."""

    outbound_secret: Secret | None = None


def check_credentials(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The credentials of a kind (its provider's model, channels/providers.py), checked for shape
    (422 naming each bad field); kinds without a model yet take a free-form object."""
    from tertulia.channels.providers import provider  # the registry names these models: imported late

    model = provider(kind).credentials
    if model is None:
        return given
    try:
        return model.model_validate(given).model_dump(exclude_none=True)
    except ValidationError as exc:
        # One `details` entry per field (as a request's own validation gives): the form marks each.
        names = [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
        details: list[dict[str, Any]] = [
            {"field": f"credentials.{name}" if name else "credentials", "message": err["msg"], "type": err["type"],
             **({"ctx": {k: v for k, v in err["ctx"].items() if isinstance(v, str | int)}} if err.get("ctx") else {})}
            for name, err in zip(names, exc.errors(), strict=True)]
        fields = ", ".join(name or "credentials" for name in names)
        raise Invalid(f"the {kind} credentials are not right: check {fields}",
                      code="invalid_channel_credentials", extra={"details": details}) from exc


C = TypeVar("C", bound=Credentials)


def credentials_of(channel: Channel, box: SecretBox, model: type[C]) -> C:
    """The channel's stored credentials, decrypted, as the kind's model."""
    return model.model_validate(box.decrypt(channel.credentials_encrypted) if channel.credentials_encrypted else {})
