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


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhatsAppCloudCredentials(_Credentials):
    """Meta's WhatsApp Cloud API: the phone number and account ids, a (system user) access token,
    and the app secret that signs webhooks."""

    phone_number_id: NumericId
    waba_id: NumericId
    access_token: Secret
    app_secret: Secret


class YCloudCredentials(_Credentials):
    """YCloud: its API key, the business number in E.164, the WhatsApp account id, and the webhook
    endpoint's signing secret."""

    api_key: Secret
    phone_number: E164
    waba_id: NumericId
    signing_secret: Secret


class ApiChannelCredentials(_Credentials):
    """The generic `api` channel: the secret that signs what it POSTs to its outbound URL."""

    outbound_secret: Secret | None = None


CREDENTIALS: dict[str, type[_Credentials]] = {
    "whatsapp_cloud": WhatsAppCloudCredentials,
    "ycloud": YCloudCredentials,
    "api": ApiChannelCredentials,
}


def check_credentials(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The credentials of a kind, checked for shape (422 naming each bad field); kinds without a
    model yet take a free-form object."""
    model = CREDENTIALS.get(kind)
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


def credentials_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's credentials (what the connect form asks for), empty for a kind
    that takes none."""
    model = CREDENTIALS.get(kind)
    return model.model_json_schema() if model is not None else {}


C = TypeVar("C", bound=_Credentials)


def credentials_of(channel: Channel, box: SecretBox, model: type[C]) -> C:
    """The channel's stored credentials, decrypted, as the kind's model."""
    return model.model_validate(box.decrypt(channel.credentials_encrypted) if channel.credentials_encrypted else {})
