"""Opaque keyset cursors: base64url of a small JSON list, so clients cannot depend on their shape."""

from __future__ import annotations

import base64
import json
from typing import Any

from tertulia.kit.errors import Invalid


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("the cursor is not one this server issued", code="invalid_cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise Invalid("the cursor is not one this server issued", code="invalid_cursor")
    return values
