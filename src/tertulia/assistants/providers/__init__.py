"""Which provider answers for an assistant.

The network providers are imported only when an assistant uses them, so the embedded default
(offline) starts without loading the vendor SDKs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tertulia.assistants.providers.base import Provider, ProviderError
from tertulia.assistants.providers.offline import OfflineProvider
from tertulia.kit.crypto import SecretBox

if TYPE_CHECKING:
    from tertulia.assistants.models import Assistant

# Per-assistant replacements (a scripted or slow provider in tests, an instant one in benchmarks).
provider_overrides: dict[uuid.UUID, Callable[[Assistant], Provider]] = {}

NETWORK_TIMEOUT_SECONDS = 60.0
NETWORK_MAX_RETRIES = 2


def api_key_of(assistant: Assistant, secret_box: SecretBox) -> str | None:
    if not assistant.api_key_encrypted:
        return None
    try:
        key: Any = secret_box.decrypt(assistant.api_key_encrypted).get("api_key")
    except ValueError as exc:
        raise ProviderError(str(exc), retryable=False, code="credentials_unreadable") from exc
    return str(key) if key else None


def build_provider(assistant: Assistant, secret_box: SecretBox) -> Provider:
    override = provider_overrides.get(assistant.id)
    if override is not None:
        return override(assistant)
    if assistant.provider == "offline":
        return OfflineProvider(language=assistant.language, assistant_name=assistant.name)
    if assistant.provider == "openai":
        try:
            from tertulia.assistants.providers.openai_provider import OpenAIProvider
        except ImportError as exc:
            raise ProviderError(f"the openai provider is not available: {exc}", retryable=False,
                                code="provider_unavailable") from exc
        return OpenAIProvider(assistant.base_url, api_key_of(assistant, secret_box), timeout=NETWORK_TIMEOUT_SECONDS,
                              max_retries=NETWORK_MAX_RETRIES)
    if assistant.provider == "anthropic":
        try:
            from tertulia.assistants.providers.anthropic_provider import AnthropicProvider
        except ImportError as exc:
            raise ProviderError(f"the anthropic provider is not available: {exc}", retryable=False,
                                code="provider_unavailable") from exc
        return AnthropicProvider(assistant.base_url, api_key_of(assistant, secret_box),
                                 timeout=NETWORK_TIMEOUT_SECONDS, max_retries=NETWORK_MAX_RETRIES)
    raise ProviderError(f"unknown provider '{assistant.provider}'", retryable=False, code="unknown_provider")
