"""Message templates a sandbox WhatsApp account starts with, in Meta's shape (YCloud's list is built
from the same records)."""

from __future__ import annotations

import re
import time
from typing import Any

from tertulia.sandbox.state import new_numeric_id


def template(name: str, language: str, category: str, components: list[dict[str, Any]], *,
             status: str = "APPROVED", parameter_format: str = "POSITIONAL", rejected_reason: str | None = None
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": new_numeric_id(15), "name": name, "language": language, "status": status,
                           "category": category, "parameter_format": parameter_format, "components": components,
                           "created_at": time.time()}
    if rejected_reason:
        out["rejected_reason"] = rejected_reason
    return out


def default_templates() -> list[dict[str, Any]]:
    return [
        template("hello_world", "en_US", "UTILITY", [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send "
                                     "a WhatsApp message notification from the Cloud API."},
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}]),
        template("recordatorio_cita", "es", "UTILITY", [
            {"type": "BODY", "text": "Hola {{1}}, te recordamos tu cita del {{2}}. ¿Nos confirmas?",
             "example": {"body_text": [["Lucía", "martes a las 10:00"]]}},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Confirmar"},
                                            {"type": "QUICK_REPLY", "text": "Cambiar la cita"}]}]),
        template("oferta_temporada", "es", "MARKETING", [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2UvcG5n:sandbox"]}},
            {"type": "BODY", "text": "¡Hola {{nombre}}! Esta semana tienes un {{descuento}} de descuento en toda "
                                     "la tienda.",
             "example": {"body_text_named_params": [{"param_name": "nombre", "example": "Lucía"},
                                                    {"param_name": "descuento", "example": "20 %"}]}},
            {"type": "FOOTER", "text": "Responde BAJA para no recibir ofertas"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver ofertas",
                                             "url": "https://tienda.example/ofertas/{{1}}",
                                             "example": ["primavera"]}]}],
            parameter_format="NAMED"),
        template("pedido_enviado", "es", "UTILITY", [
            {"type": "BODY", "text": "Tu pedido {{1}} ya está en camino. Llegará el {{2}}.",
             "example": {"body_text": [["#1042", "jueves"]]}}], status="PENDING"),
        template("sorteo_gratis", "es", "MARKETING", [
            {"type": "BODY", "text": "¡Has ganado un premio! Pulsa aquí."}],
            status="REJECTED", rejected_reason="PROMOTIONAL"),
    ]


def filler_templates(count: int, *, prefix: str = "plantilla", language: str = "es") -> list[dict[str, Any]]:
    """Numbered approved templates (for pagination)."""
    return [template(f"{prefix}_{i:04d}", language, "UTILITY",
                     [{"type": "BODY", "text": f"Mensaje {i} para {{{{1}}}}",
                       "example": {"body_text": [["Lucía"]]}}]) for i in range(1, count + 1)]


def body_parameters(template_record: dict[str, Any]) -> int:
    """How many positional body parameters the template's body has."""
    for component in template_record.get("components", []):
        if component.get("type") == "BODY":
            text = str(component.get("text", ""))
            return sum(1 for i in range(1, 40) if "{{" + str(i) + "}}" in text)
    return 0


VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def rendered_text(record: dict[str, Any] | None, sent: dict[str, Any]) -> str | None:
    """What the customer reads of a template sent with these components (header and body with the
    parameters filled in), for the phone page; None when the template is not known."""
    if record is None:
        return None
    given: dict[str, tuple[list[str], dict[str, str]]] = {}
    for component in sent.get("components") or []:
        if not isinstance(component, dict):
            continue
        positional, named = given.setdefault(str(component.get("type", "")).upper(), ([], {}))
        for parameter in component.get("parameters") or []:
            if isinstance(parameter, dict) and parameter.get("type") == "text":
                if parameter.get("parameter_name"):
                    named[str(parameter["parameter_name"])] = str(parameter.get("text", ""))
                else:
                    positional.append(str(parameter.get("text", "")))

    def fill(kind: str, text: str) -> str:
        positional, named = given.get(kind, ([], {}))

        def value(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in named:
                return named[key]
            if key.isdigit() and 0 < int(key) <= len(positional):
                return positional[int(key) - 1]
            return match.group(0)

        return VARIABLE.sub(value, text)

    parts = [fill(str(c.get("type", "")).upper(), str(c.get("text") or "")) for c in record.get("components", [])
             if str(c.get("type", "")).upper() in ("HEADER", "BODY") and c.get("text")]
    return "\n".join(p for p in parts if p) or None
