"""Every error the server can send is said in the panel's languages: each domain error `code` has
an `error.<code>` message and each custom field-error type a `validation.<type>` one, in Spanish and
in English (web/src/i18n). A new code fails here until the panel can say it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tertulia.channels.sending import META_CODES, YCLOUD_CODES
from tertulia.kit import errors

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "tertulia"
DICTIONARIES = {lang: ROOT / "web" / "src" / "i18n" / f"{lang}.ts" for lang in ("es", "en")}


def _server_codes() -> tuple[set[str], set[str]]:
    codes = set(errors._STATUS_CODES.values()) | {"invalid_json", "invalid_input", "database_error"}
    types: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes.update(re.findall(r"""\bcode\s*=\s*["']([a-z_]+)["']""", text))
        codes.update(re.findall(r"""status_code, code = \d+, ["']([a-z_]+)["']""", text))
        codes.update(re.findall(r"""error_body\(\s*["']([a-z_]+)["']""", text))
        codes.update(re.findall(r"""\(\d{3}, ["']([a-z_]+)["']\)""", text))  # (status, code) tables
        types.update(re.findall(r"""PydanticCustomError\(\s*["']([a-z_]+)["']""", text))
    return codes, types


def _keys(path: Path) -> set[str]:
    return set(re.findall(r'^\s*"([a-zA-Z0-9_.]+)":', path.read_text(encoding="utf-8"), re.M))


def test_every_error_code_and_field_error_type_has_words_in_each_language() -> None:
    codes, types = _server_codes()
    assert {"last_owner", "forbidden_role", "validation_error"} <= codes and "phone_format" in types
    for lang, path in DICTIONARIES.items():
        keys = _keys(path)
        missing = sorted({f"error.{c}" for c in codes} - keys) + sorted({f"validation.{t}" for t in types} - keys)
        assert not missing, f"add these messages to web/src/i18n/{lang}.ts: {missing}"


def _delivery_codes() -> set[str]:
    """The codes a failed send can carry (a message's `error_code`): Meta's and YCloud's that
    Tertulia knows, and each literal code a ProviderFailure is raised with (`http_<status>` is
    worded by its status)."""
    codes = {str(c) for c in META_CODES} | set(YCLOUD_CODES)
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ProviderFailure":
                code = node.args[2] if len(node.args) > 2 else None
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
    return {c for c in codes if not re.fullmatch(r"http_\d{3}", c)} | {"http_retry", "http_refused", "unknown"}


def test_every_delivery_failure_code_has_words_in_each_language() -> None:
    """The server writes a failed send's reason in Spanish; the panel says it in the chosen
    language by its code (web/src/lib/deliveryText.ts)."""
    codes = _delivery_codes()
    assert {"131047", "UNAUTHORIZED", "no_recipient", "channel_disabled", "network"} <= codes
    for lang, path in DICTIONARIES.items():
        missing = sorted({f"delivery.{c}" for c in codes} - _keys(path))
        assert not missing, f"add these messages to web/src/i18n/{lang}.ts: {missing}"
