"""WhatsApp message templates (seed 001 §5): synced from the providers, listed for the inbox's
picker, and sent (also when the 24-hour window is closed: that is what they are for).

- Sync reads every template of every WhatsApp channel of the tenant, following the providers'
  pagination (Meta's cursors, YCloud's pages), upserts them by (channel, name, language) and marks
  the ones gone (`removed_at`): a template stays readable for the messages that used it.
- A send is checked against the template (only APPROVED ones; the body's positional or named
  parameters, a header's text or file, the buttons that need a value): a 422 names each problem.
  The outbound message keeps the text the customer reads (header, body with its values, footer),
  `kind: template` and `extra.template`; its delivery carries Meta's `template` object.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.channels import template_repository as repo
from tertulia.channels.credentials import Credentials, credentials_of
from tertulia.channels.models import TEMPLATE_STATUSES, Channel, MessageTemplate
from tertulia.channels.providers import provider
from tertulia.channels.template_schemas import (
    TemplateButtonOut,
    TemplateOut,
    TemplateParametersOut,
    TemplateSendRequest,
)
from tertulia.config import Settings
from tertulia.conversations import service as conversations
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.crypto import SecretBox
from tertulia.kit.errors import Conflict, Invalid, NotFound

VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_HEADERS = ("image", "video", "document")
# Meta refuses parameters with new lines, tabs or more than four spaces in a row.
BAD_PARAMETER = re.compile(r"[\n\t]| {5,}")


# --- what a template takes ----------------------------------------------------------------------

def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in components if str(c.get("type", "")).upper() == kind), None)


def _variables(text: str) -> list[str]:
    seen: list[str] = []
    for name in VARIABLE.findall(text):
        if name not in seen:
            seen.append(name)
    return sorted(seen, key=int) if all(n.isdigit() for n in seen) else seen


def shape_of(template: MessageTemplate) -> TemplateParametersOut:
    components = template.components or []
    body = _component(components, "BODY") or {}
    header = _component(components, "HEADER") or {}
    header_format = str(header.get("format") or "").lower() or None
    buttons = []
    for index, button in enumerate((_component(components, "BUTTONS") or {}).get("buttons") or []):
        kind = str(button.get("type") or "").upper()
        needs: Any = None
        if kind == "URL" and VARIABLE.search(str(button.get("url") or "")):
            needs = "text"
        elif kind == "COPY_CODE":
            needs = "coupon_code"
        elif kind == "QUICK_REPLY":
            needs = "payload"
        buttons.append(TemplateButtonOut(index=index, type=kind, text=str(button.get("text") or ""),
                                         url=button.get("url"), parameter=needs))
    return TemplateParametersOut(
        format="NAMED" if template.parameter_format == "NAMED" else "POSITIONAL",
        body=_variables(str(body.get("text") or "")),
        header=header_format if header_format in ("text", "location", *MEDIA_HEADERS) and (
            header_format != "text" or VARIABLE.search(str(header.get("text") or ""))) else None,
        header_text_parameters=_variables(str(header.get("text") or "")) if header_format == "text" else [],
        buttons=buttons)


def template_out(template: MessageTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id, channel_id=template.channel_id, provider_template_id=template.provider_template_id,
        name=template.name, language=template.language, status=template.status, category=template.category,
        parameter_format=template.parameter_format, components=template.components or [], quality=template.quality,
        rejected_reason=template.rejected_reason, synced_at=template.synced_at, removed_at=template.removed_at,
        parameters=shape_of(template))


# --- sync -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """What a sync needs of a channel, read before the provider calls (no session held then)."""

    id: uuid.UUID
    kind: str
    name: str
    credentials: Credentials | None
    problem: str | None = None


def channel_access(channel: Channel, box: SecretBox) -> ChannelAccess:
    model = provider(channel.kind).credentials
    try:
        if model is None:
            raise ValueError(f"{channel.kind} channels have no credentials")
        credentials = credentials_of(channel, box, model)
    except ValueError:
        return ChannelAccess(channel.id, channel.kind, channel.name, None,
                             "the channel's credentials are incomplete: set them in the channel's settings")
    return ChannelAccess(channel.id, channel.kind, channel.name, credentials)


def _infer_format(components: list[dict[str, Any]]) -> str:
    body = _component(components, "BODY") or {}
    names = VARIABLE.findall(str(body.get("text") or ""))
    return "NAMED" if names and not all(n.isdigit() for n in names) else "POSITIONAL"


def _record(item: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """A provider's template as our columns; None for an item without name or language."""
    name, language = str(item.get("name") or "").strip(), str(item.get("language") or "").strip()
    if not name or not language:
        return None
    components = [c for c in item.get("components") or [] if isinstance(c, dict)]
    status = str(item.get("status") or "").upper()
    source = provider(kind).templates
    quality, provider_id, reason = source.facts(item) if source is not None else (None, None, None)
    parameter_format = str(item.get("parameter_format") or "").upper() or _infer_format(components)
    return {"name": name[:512], "language": language[:16],
            "status": status if status in TEMPLATE_STATUSES else (status[:32] or "PENDING"),
            "category": str(item.get("category") or "").upper()[:32],
            "parameter_format": parameter_format if parameter_format in ("POSITIONAL", "NAMED") else "POSITIONAL",
            "components": components, "quality": str(quality)[:16] if quality else None,
            "provider_template_id": str(provider_id)[:64] if provider_id else None,
            "rejected_reason": str(reason) if reason and str(reason).upper() != "NONE" else None}


async def fetch_templates(client: httpx2.AsyncClient, settings: Settings,
                          access: ChannelAccess) -> list[dict[str, Any]]:
    """Every template of the channel's account, as our columns. Raises ProviderFailure."""
    items: list[dict[str, Any]] = []
    source = provider(access.kind).templates
    if source is not None and access.credentials is not None:
        async for item in source.list(client, settings, access.credentials):
            items.append(item)
    return [r for r in (_record(i, access.kind) for i in items) if r is not None]


async def store_templates(session: AsyncSession, tenant_id: uuid.UUID, channel_id: uuid.UUID,
                          records: list[dict[str, Any]], now: datetime) -> tuple[int, int]:
    """Upsert a channel's templates as the provider listed them; those it no longer lists are
    marked removed. Answers (stored, newly removed)."""
    stored = await repo.templates_of_channel(session, tenant_id, channel_id)
    seen: set[tuple[str, str]] = set()
    for record in records:
        key = (record["name"], record["language"])
        if key in seen:
            continue
        seen.add(key)
        template = stored.get(key)
        if template is None:
            session.add(MessageTemplate(tenant_id=tenant_id, channel_id=channel_id, synced_at=now, created_at=now,
                                        updated_at=now, **record))
            continue
        for column, value in record.items():
            setattr(template, column, value)
        template.synced_at = template.updated_at = now
        template.removed_at = None
    gone = [t.id for key, t in stored.items() if key not in seen and t.removed_at is None]
    await repo.mark_removed(session, tenant_id, gone, now)
    await session.flush()
    return len(seen), len(gone)


# --- sending --------------------------------------------------------------------------------------

@dataclass
class RenderedTemplate:
    content: str  # what the customer reads
    wire: dict[str, Any]  # Meta's `template` object (YCloud carries the same)
    extra: dict[str, Any]  # the message's `extra.template`
    attachments: list[dict[str, Any]] = field(default_factory=list)  # a media header, for the inbox


class TemplateParametersInvalid(Invalid):
    code = "template_parameters"


def _problem(field_name: str, message: str, type_: str, **ctx: Any) -> dict[str, Any]:
    return {"field": field_name, "message": message, "type": type_, **({"ctx": ctx} if ctx else {})}


def _check_value(problems: list[dict[str, Any]], field_name: str, value: str) -> None:
    if not value.strip():
        problems.append(_problem(field_name, "must not be empty", "blank"))
    elif BAD_PARAMETER.search(value):
        problems.append(_problem(field_name, "WhatsApp refuses new lines, tabs or more than four spaces in a row "
                                             "in a parameter", "template_parameter_format"))


def _fill(text: str, values: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render(template: MessageTemplate, request: TemplateSendRequest) -> RenderedTemplate:
    """The template with the request's values, checked: TemplateParametersInvalid names every
    problem (count, missing or unknown names, empty values, a header or button left out)."""
    shape = shape_of(template)
    components = template.components or []
    problems: list[dict[str, Any]] = []
    wire_components: list[dict[str, Any]] = []
    named = shape.format == "NAMED"

    # The body.
    values: dict[str, str] = {}
    if named:
        if request.parameters and not request.named_parameters:
            problems.append(_problem("parameters", f"this template takes named parameters: {', '.join(shape.body)}",
                                     "template_parameters_named", expected=", ".join(shape.body)))
        else:
            missing = [n for n in shape.body if n not in request.named_parameters]
            unknown = [n for n in request.named_parameters if n not in shape.body]
            if missing:
                problems.append(_problem("named_parameters", f"missing: {', '.join(missing)}",
                                         "template_parameter_missing", names=", ".join(missing)))
            if unknown:
                problems.append(_problem("named_parameters", f"not in the template: {', '.join(unknown)}",
                                         "template_parameter_unknown", names=", ".join(unknown)))
            values = {n: v for n, v in request.named_parameters.items() if n in shape.body}
    else:
        if request.named_parameters:
            problems.append(_problem("named_parameters", "this template takes positional parameters (`parameters`)",
                                     "template_parameters_positional"))
        if len(request.parameters) != len(shape.body):
            problems.append(_problem("parameters", f"the body takes {len(shape.body)} parameter(s), "
                                     f"{len(request.parameters)} given", "template_parameter_count",
                                     expected=len(shape.body), given=len(request.parameters)))
        values = dict(zip(shape.body, request.parameters, strict=False))
    for name, value in values.items():
        _check_value(problems, f"named_parameters.{name}" if named else f"parameters.{shape.body.index(name)}", value)
    if shape.body and values:
        wire_components.append({"type": "body", "parameters": [
            {"type": "text", "text": values[n], **({"parameter_name": n} if named else {})}
            for n in shape.body if n in values]})

    # The header.
    header = _component(components, "HEADER") or {}
    header_text = str(header.get("text") or "") if shape.header is None and header.get("text") else ""
    attachments: list[dict[str, Any]] = []
    header_extra: dict[str, Any] | None = None
    given = request.header
    if shape.header == "text":
        if given is None or given.type != "text" or not given.text:
            problems.append(_problem("header.text", "the template's header takes a text parameter",
                                     "template_header_missing", expected="text"))
        else:
            _check_value(problems, "header.text", given.text)
            variable = shape.header_text_parameters[0] if shape.header_text_parameters else "1"
            header_text = _fill(str(header.get("text") or ""), {variable: given.text})
            wire_components.insert(0, {"type": "header", "parameters": [
                {"type": "text", "text": given.text, **({"parameter_name": variable} if named else {})}]})
            header_extra = {"type": "text", "text": given.text}
    elif shape.header in MEDIA_HEADERS:
        if given is None or given.type != shape.header or not given.url:
            problems.append(_problem("header.url", f"the template's header takes a file ({shape.header})",
                                     "template_header_missing", expected=shape.header))
        elif not given.url.startswith(("/media/", "https://", "http://")):
            problems.append(_problem("header.url", "a file of this tenant (/media/...) or a public URL",
                                     "url_scheme"))
        else:
            media: dict[str, Any] = {"link": given.url}
            if shape.header == "document" and given.filename:
                media["filename"] = given.filename
            wire_components.insert(0, {"type": "header", "parameters": [{"type": shape.header, shape.header: media}]})
            attachments.append({"type": shape.header, "url": given.url,
                                **({"filename": given.filename} if given.filename else {})})
            header_extra = {"type": shape.header, "url": given.url}
    elif shape.header == "location":
        problems.append(_problem("header", "templates with a location header cannot be sent from Tertulia yet",
                                 "template_header_unsupported"))
    elif given is not None:
        problems.append(_problem("header", "the template's header takes no parameter", "template_header_unexpected"))

    # The buttons.
    by_index = {b.index: b for b in shape.buttons}
    rendered_buttons = [{"type": b.type, "text": b.text, **({"url": b.url} if b.url else {})} for b in shape.buttons]
    given_buttons = {b.index: b.parameter for b in request.buttons}
    for index in given_buttons:
        button = by_index.get(index)
        if button is None or button.parameter is None:
            problems.append(_problem(f"buttons.{index}", "the template has no button there that takes a parameter",
                                     "template_button_unexpected", index=index))
    for button in shape.buttons:
        given_value = given_buttons.get(button.index)
        if button.parameter in ("text", "coupon_code") and given_value is None:
            problems.append(_problem(f"buttons.{button.index}", f"the button «{button.text}» needs its parameter",
                                     "template_button_missing", index=button.index))
            continue
        if given_value is None or button.parameter is None:
            continue
        _check_value(problems, f"buttons.{button.index}", given_value)
        sub_type = {"text": "url", "coupon_code": "copy_code", "payload": "quick_reply"}[button.parameter]
        parameter = ({"type": "text", "text": given_value} if button.parameter == "text"
                     else {"type": button.parameter, button.parameter: given_value})
        wire_components.append({"type": "button", "sub_type": sub_type, "index": str(button.index),
                                "parameters": [parameter]})
        if button.parameter == "text" and button.url:
            rendered_buttons[button.index]["url"] = VARIABLE.sub(given_value.replace("\\", "\\\\"), button.url,
                                                                 count=1)

    if problems:
        raise TemplateParametersInvalid(
            "the parameters do not fit the template: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            extra={"details": problems})
    body = _fill(str((_component(components, "BODY") or {}).get("text") or ""), values)
    footer = str((_component(components, "FOOTER") or {}).get("text") or "")
    content = "\n\n".join(part for part in (header_text, body, footer) if part.strip())
    wire: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if wire_components:
        wire["components"] = wire_components
    extra: dict[str, Any] = {"id": str(template.id), "name": template.name, "language": template.language,
                             "category": template.category}
    if named:
        extra["named_parameters"] = values
    else:
        extra["parameters"] = list(request.parameters)
    if header_extra:
        extra["header"] = header_extra
    if rendered_buttons:
        extra["buttons"] = rendered_buttons
    return RenderedTemplate(content=content or f"[{template.name}]", wire=wire, extra=extra, attachments=attachments)


def _check_header_file(tenant_id: uuid.UUID, request: TemplateSendRequest) -> None:
    url = request.header.url if request.header else None
    if url and url.startswith("/media/") and not url.startswith(f"/media/{tenant_id}/"):
        raise TemplateParametersInvalid("header.url: not a file of this tenant", extra={"details": [
            _problem("header.url", "not a file of this tenant", "url_scheme")]})


async def send_template(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID | None,
                        request: TemplateSendRequest) -> tuple[Conversation, Message]:
    """Queue an approved template to a WhatsApp conversation (the window may be closed). A
    template does not take the conversation from the AI: it is the business's notice, and the
    AI answers the customer's reply unless a person took over."""
    conv = await conversations.lock_conversation(session, tenant_id, request.conversation_id)
    template = await repo.get_template(session, tenant_id, request.template_id)
    if template is None or template.removed_at is not None:
        raise NotFound("no such template (sync the templates to see the provider's)", code="template_not_found")
    if template.channel_id != conv.channel_id:
        raise Invalid("the template belongs to another channel than the conversation's",
                      code="template_channel_mismatch")
    if template.status != "APPROVED":
        raise Conflict(f"the template is {template.status}: only APPROVED templates can be sent",
                       code="template_not_approved")
    _check_header_file(tenant_id, request)
    rendered = render(template, request)
    msg = await conversations.add_outbound_message(
        session, conv, author="human", author_user_id=user_id, content=rendered.content, kind="template",
        extra={"template": rendered.extra}, attachments=rendered.attachments, payload={"template": rendered.wire})
    await conversations.emit_conversation_updated(session, conv)
    return conv, msg
