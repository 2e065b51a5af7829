"""What a channel check (`POST /admin/channels/{id}/check`, channels/check.py) is made of: each
provider's check (`channels/<provider>/check.py`) asks its provider with the channel's own
credentials and adds, look-up by look-up, what works and what to fix, in words a business owner
understands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from tertulia.channels.credentials import C, credentials_of
from tertulia.channels.models import Channel
from tertulia.channels.sending import ProviderFailure
from tertulia.config import Settings
from tertulia.kit.crypto import SecretBox

QUALITY = {"GREEN": "alta", "YELLOW": "media", "RED": "baja", "UNKNOWN": "sin datos aún"}


class CheckItem(BaseModel):
    name: str = Field(description="what was checked: credentials, phone_number, business_account...")
    ok: bool
    detail: str = Field(description="what works, or what is wrong and what to do (for a person)")


class ChannelCheck(BaseModel):
    ok: bool = Field(description="every check passed")
    checks: list[CheckItem]
    status: str = Field(description="the channel's status after the check: ok | attention")


class Checks:
    def __init__(self) -> None:
        self.items: list[CheckItem] = []
        self.refused: ProviderFailure | None = None  # the provider refused the credentials

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.items.append(CheckItem(name=name, ok=ok, detail=detail))
        return ok

    async def ask(self, name: str, call: Callable[[], Awaitable[dict[str, Any]]],
                  ok: Callable[[dict[str, Any]], str], missing: str, provider: str) -> dict[str, Any] | None:
        """One look-up: its answer (and a passed check), or None (and a failed one)."""
        try:
            answer = await call()
        except ProviderFailure as failure:
            if failure.action == "pause":
                self.refused = failure
                self.add(name, False, failure.reason)
            elif failure.code == "network":
                self.add(name, False, f"No se pudo contactar con {provider}: inténtalo de nuevo en un momento.")
            elif failure.action == "retry":
                self.add(name, False, f"{provider} no respondió bien ahora mismo ({failure.code}): inténtalo de "
                                      "nuevo en un momento.")
            else:
                self.add(name, False, missing)
            return None
        self.add(name, True, ok(answer))
        return answer


def read_credentials(checks: Checks, channel: Channel, box: SecretBox, model: type[C], what: str) -> C | None:
    """The channel's credentials, or None after a failed `credentials` check saying what to give."""
    try:
        creds = credentials_of(channel, box, model)
    except ValueError:
        checks.add("credentials", False, f"Faltan credenciales o no tienen la forma esperada: indica {what}.")
        return None
    checks.add("credentials", True, "Las credenciales están completas.")
    return creds


def quality(value: Any) -> str:
    return QUALITY.get(str(value or "UNKNOWN").upper(), str(value))


async def nothing_to_check(channel: Channel, box: SecretBox, settings: Settings, checks: Checks) -> None:
    """Channels without a provider's credentials (`web`)."""
    checks.add("channel", True, "Este canal no usa credenciales de un proveedor: no hay nada que comprobar.")
