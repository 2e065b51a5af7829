"""Slash commands: the panel chatbot's offline half, which needs no model.

A message is split like a shell line; a first word starting with `/` is a command, `key=value`
words become its arguments (keys lower-cased, whole numbers and true/false typed), other words
its free text. `/repetitividad mes=9 anio=2025` runs the report on the message's first attachment,
or else on the last file uploaded in the conversation.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from tertulia.reports.tools import MAPA_GEO, REPETITIVIDAD
from tertulia.webchat.inbox_tools import FIND, TODAY, WAITING


@dataclass
class Command:
    name: str  # without the slash, lower-cased
    args: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the words that were not key=value


@dataclass(frozen=True)
class CommandSpec:
    name: str
    tool: str | None
    usage: str
    help: str


COMMANDS: dict[str, CommandSpec] = {c.name: c for c in (
    CommandSpec("repetitividad", REPETITIVIDAD, "/repetitividad mes=9 anio=2025",
                "informe de repetitividad del mes sobre la planilla adjunta (o la última subida): DOCX, PDF y mapa"),
    CommandSpec("pendientes", WAITING, "/pendientes", "cuántas conversaciones esperan a una persona, y cuáles"),
    CommandSpec("hoy", TODAY, "/hoy etiqueta=VIP", "las conversaciones de hoy (de clientes con esa etiqueta)"),
    CommandSpec("buscar", FIND, "/buscar +34 612", "busca conversaciones por nombre o teléfono"),
    CommandSpec("ayuda", None, "/ayuda", "esta lista"),
)}
# Argument names people type, as the tools name them.
ALIASES = {"año": "anio", "ano": "anio", "year": "anio", "month": "mes", "archivo": "file_path", "file": "file_path",
           "etiqueta": "tag", "pdf": "export_pdf"}


def _typed(value: str) -> Any:
    if value.lstrip("-").isdigit() and len(value) < 12:
        return int(value)
    if value.lower() in ("true", "false", "si", "sí", "no"):
        return value.lower() in ("true", "si", "sí")
    return value


def parse(content: str) -> Command | None:
    """The command in a message, or None when it is not one."""
    text = content.strip()
    if not text.startswith("/") or len(text) < 2:
        return None
    try:
        words = shlex.split(text)
    except ValueError:  # an unclosed quote: split on spaces instead
        words = text.split()
    command = Command(name=words[0][1:].lower())
    free: list[str] = []
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if sep and key:
            key = key.lower()
            command.args[ALIASES.get(key, key)] = _typed(value)
        else:
            free.append(word)
    command.text = " ".join(free)
    return command


def help_text(intro: str | None = None) -> str:
    lines = [intro] if intro else []
    lines.append("Comandos disponibles:")
    lines += [f"- `{c.usage}`: {c.help}" for c in COMMANDS.values()]
    lines.append(f"\nTambién puedes pedirme una herramienta por su nombre ({REPETITIVIDAD}, {MAPA_GEO}). "
                 "Sube las planillas con el clip o arrastrándolas aquí.")
    return "\n".join(lines)


def unknown_text(name: str) -> str:
    return help_text(f"Comando `/{name}` no reconocido.")


def offline_text() -> str:
    return help_text("Este asistente del panel no tiene un modelo de IA configurado: funciona con comandos. "
                     "Por ejemplo, `/repetitividad mes=9 anio=2025` con una planilla adjunta.")
