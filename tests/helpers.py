"""Helpers shared by tests (import them from here; conftest re-exports them)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
from starlette.routing import BaseRoute

TEST_PASSWORD = "s3cret-test-pass"


@dataclass
class TenantCtx:
    id: uuid.UUID
    slug: str
    owner_email: str
    token: str
    channel_id: uuid.UUID
    inbound_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def inbound_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.inbound_token}"}


async def post_inbound(client: httpx2.AsyncClient, t: TenantCtx, text: str = "Hola", *,
                       external_id: str = "cust-1", message_id: str | None = None, name: str | None = "Cliente",
                       phone: str | None = None, **extra: Any) -> httpx2.Response:
    body: dict[str, Any] = {
        "external_message_id": message_id or uuid.uuid4().hex,
        "contact": {"external_id": external_id, **({"name": name} if name else {}), **({"phone": phone} if phone else {})},
        "content": text, **extra,
    }
    return await client.post(f"/api/v1/inbound/{t.channel_id}", json=body, headers=t.inbound_headers)


# What an error body must never show: SQL (uppercase keywords with SQL around them, so that plain
# words do not count), bound parameters, driver and ORM names, stack traces, source paths.
INTERNALS = [
    re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.DOTALL),
    re.compile(r"\[SQL:|\[parameters:|Traceback \(most recent call last\)|File \"|\.py\b|site-packages|/src/|"
               r"psycopg|sqlalchemy|sqlite3|sqlalche\.me|\b\w+(Error|Exception): ", re.IGNORECASE),
]


def internals_in(text: str, *private: str) -> list[str]:
    """The pieces of `text` that give away internals, and any of the `private` values it contains."""
    found = [m.group(0)[:80] for pattern in INTERNALS for m in pattern.finditer(text)]
    return found + [p for p in private if p and p in text]


def iter_routes(routes: list[BaseRoute]) -> list[tuple[str, BaseRoute]]:
    """Every (full path, route) the app serves, through included routers."""
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        if hasattr(route, "effective_candidates"):  # an included router
            for candidate in route.effective_candidates():
                if hasattr(candidate, "effective_candidates"):
                    found.extend(iter_routes([candidate]))
                else:
                    found.append((candidate.path, candidate.original_route))
        else:
            found.append((getattr(route, "path", ""), route))
    return found
