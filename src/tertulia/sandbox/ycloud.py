"""YCloud's API v2 as Tertulia uses it: WhatsApp sends (queued and direct), templates, phone numbers,
the WABA, media upload and download, mark-as-read and typing. Header `X-API-Key`.

Errors use YCloud's body `{"error": {"status", "code", "message", "target"?, "requestId",
"whatsappApiError"?}}`; the request id is also the `YCloud-Request-ID` header.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tertulia.sandbox import envelopes as env
from tertulia.sandbox.meta import ASYNC_BY_DEFAULT, MAX_UPLOAD, MEDIA_SEND_TYPES, WHATSAPP_SEND_TYPES
from tertulia.sandbox.state import Channel, Failure, SandboxState, SentMessage, new_id, new_wamid
from tertulia.sandbox.templates import body_parameters, rendered_text
from tertulia.sandbox.traffic import Traffic
from tertulia.sandbox.wire import dropped_response, json_body

RATE_CODES = {"130429", "131056", "4", "80007"}
# Failures YCloud answers itself: kind -> (HTTP status, code, message)
OWN_ERRORS: dict[str, tuple[int, str, str]] = {
    "429": (429, "TOO_MANY_REQUESTS", "Too many requests, please slow down."),
    "5xx": (500, "INTERNAL_SERVER_ERROR", "Internal server error."),
    "503": (503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable."),
    "190": (401, "UNAUTHORIZED", "Invalid API key."),
    "404": (404, "NOT_FOUND", "The requested resource does not exist."),
}


def ycloud_error(status: int, code: str, message: str, *, target: str | None = None,
                 whatsapp_code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = "req_" + secrets.token_urlsafe(14)
    error: dict[str, Any] = {"status": status, "code": code, "message": message}
    if target:
        error["target"] = target
    error["requestId"] = request_id
    if whatsapp_code is not None:
        title, details = env.META_ERRORS.get(whatsapp_code, ("Something went wrong", "Unknown error"))
        error["message"] = f"(#{whatsapp_code}) {title}"
        error["target"] = "whatsappApiError"
        error["docUrl"] = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes"
        error["whatsappApiError"] = {"message": f"(#{whatsapp_code}) {title}", "type": "OAuthException",
                                     "code": whatsapp_code, "fbtrace_id": "A" + secrets.token_urlsafe(12),
                                     "error_data": {"messaging_product": "whatsapp", "details": details}}
    return JSONResponse({"error": error}, status_code=status,
                        headers={"ycloud-request-id": request_id, **(headers or {})})


def bad_param(target: str, message: str) -> JSONResponse:
    return ycloud_error(400, "PARAM_INVALID", message, target=target)


def not_found(what: str) -> JSONResponse:
    return ycloud_error(404, "NOT_FOUND", f"{what} does not exist.")


class YCloudApi:
    def __init__(self, state: SandboxState, traffic: Traffic) -> None:
        self.state = state
        self.traffic = traffic

    async def handle(self, request: Request) -> Response:
        # Split the path as sent, then decode each part: a wamid (base64) may hold an encoded "/".
        raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        response = await self._route(request, [unquote(p) for p in raw.split("?")[0].split("/") if p][1:])
        self.state.log_request("ycloud", request.method, request.url.path, response.status_code)
        return response

    async def _route(self, request: Request, parts: list[str]) -> Response:
        key = request.headers.get("x-api-key", "")
        numbers = self.state.channel_by_api_key(key) if key else []
        if not numbers:
            return ycloud_error(401, "UNAUTHORIZED", "Missing or invalid API key.")
        method = request.method
        if method == "POST" and parts in (["whatsapp", "messages"], ["whatsapp", "messages", "sendDirectly"]):
            return await self.send(request, key, numbers, direct=parts[-1] == "sendDirectly")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["whatsapp", "messages"]:
            found = self.state.find_sent(parts[2])
            if found is None or found.channel_key not in {c.key for c in numbers}:
                return not_found("Message")
            return JSONResponse(env.ycloud_message(self.state.channel(found.channel_key), found))
        if method == "GET" and parts == ["whatsapp", "templates"]:
            return self.templates(request, numbers)
        if method == "GET" and parts == ["whatsapp", "phoneNumbers"]:
            items = [self.phone_number(c) for c in numbers]
            return JSONResponse({"offset": 0, "limit": 10, "length": len(items), "items": items})
        if method == "GET" and len(parts) == 4 and parts[:2] == ["whatsapp", "phoneNumbers"]:
            found_number = next((c for c in numbers if c.waba_id == parts[2] and c.key == parts[3]), None)
            return JSONResponse(self.phone_number(found_number)) if found_number else not_found("Phone number")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["whatsapp", "businessAccounts"]:
            owner = next((c for c in numbers if c.waba_id == parts[2]), None)
            if owner is None:
                return not_found("WhatsApp Business Account")
            return JSONResponse({"id": owner.waba_id, "name": owner.verified_name, "currency": "USD",
                                 "timezoneId": "1", "messageTemplateNamespace": "sandbox_" + (owner.waba_id or ""),
                                 "accountReviewStatus": "APPROVED"})
        if method == "GET" and parts == ["balance"]:
            return JSONResponse({"amount": 100.0, "currency": "USD"})
        if method == "POST" and len(parts) == 4 and parts[:2] == ["whatsapp", "media"] and parts[3] == "upload":
            return await self.upload(request, numbers, parts[2])
        if method == "GET" and len(parts) == 4 and parts[:3] == ["whatsapp", "media", "download"]:
            return self.download(numbers, parts[3])
        if (method == "POST" and len(parts) == 4 and parts[:2] == ["whatsapp", "inboundMessages"]
                and parts[3] in ("markAsRead", "typing")):
            return self.mark_read(numbers, parts[2], typing=parts[3] == "typing")
        return ycloud_error(404, "NOT_FOUND", "No such endpoint.")

    # -- sends ------------------------------------------------------------------------------------------
    async def send(self, request: Request, api_key: str, numbers: list[Channel], *, direct: bool) -> Response:
        body = await json_body(request)
        if body is None:
            return ycloud_error(400, "BAD_REQUEST", "The request body must be a JSON object.")
        sender = next((c for c in numbers if c.key == body.get("from")), None)
        if sender is None:
            return bad_param("from", "Parameter 'from' must be a WhatsApp phone number of this account, in E.164.")
        to = body.get("to") or body.get("recipient")
        if not isinstance(to, str) or not to:
            return bad_param("to", "Provide 'to' (E.164) or 'recipient'.")
        kind = body.get("type")
        problem = self._check(sender, kind, body)
        if problem is not None:
            return problem
        external_id = body.get("externalId")
        if external_id:
            with self.state.lock:
                earlier = self.state.external_ids.get((api_key, str(external_id)))
            if earlier is not None:
                # The same externalId again: the first message, not a second send.
                self.state.log_action("ycloud", sender.key, "duplicate_external_id", external_id=external_id)
                return JSONResponse(env.ycloud_message(sender, earlier))
        failure = self.state.take_failure("send", sender.key, to)
        if failure is not None:
            answer = self._sync_failure(failure, direct)
            if answer is not None:
                return answer
            if failure.kind == "drop":
                return dropped_response()
        async_failure = self.traffic.later_failure(failure, sender.key, to, str(kind))
        sent = SentMessage(self.state.next_seq(), "ycloud", sender.key, to, new_wamid(), str(kind),
                           self._summary(sender, str(kind), body), body, time.time(), time.monotonic(),
                           endpoint="sendDirectly" if direct else "queued", ycloud_id=new_id("", 12),
                           external_id=str(external_id) if external_id else None,
                           context_id=(body.get("context") or {}).get("message_id"))
        self.state.record_sent(sent)
        if external_id:
            with self.state.lock:
                self.state.external_ids[(api_key, str(external_id))] = sent
        self.traffic.after_send(sender, sent, async_failure)
        if failure is not None and failure.kind == "drop_after_send":
            return dropped_response()
        return JSONResponse(env.ycloud_message(sender, sent))

    def _sync_failure(self, failure: Failure, direct: bool) -> Response | None:
        if failure.kind in OWN_ERRORS:
            status, code, message = OWN_ERRORS[failure.kind]
            return ycloud_error(status, code, message, headers={"retry-after": "1"} if status == 429 else None)
        if failure.kind.startswith("drop"):
            return None
        mode = failure.mode or ("async" if failure.kind in ASYNC_BY_DEFAULT or not direct else "sync")
        if mode == "async":
            return None  # accepted; the failure arrives in a whatsapp.message.updated webhook
        if failure.kind in RATE_CODES:
            return ycloud_error(429, "TOO_MANY_REQUESTS", "", whatsapp_code=failure.kind)
        return ycloud_error(400, "BAD_REQUEST", "", whatsapp_code=failure.kind)

    def _check(self, sender: Channel, kind: Any, body: dict[str, Any]) -> Response | None:
        if kind not in WHATSAPP_SEND_TYPES:
            return bad_param("type", f"Unsupported message type {kind!r}.")
        obj = body.get(kind)
        if not isinstance(obj, dict) and kind != "contacts":
            return bad_param(kind, f"Parameter '{kind}' is required for type {kind}.")
        if kind == "text" and isinstance(obj, dict):
            text = obj.get("body")
            if not isinstance(text, str) or not text or len(text) > 4096:
                return bad_param("text.body", "Parameter 'text.body' must have 1 to 4096 characters.")
        if kind in MEDIA_SEND_TYPES and isinstance(obj, dict):
            if bool(obj.get("id")) == bool(obj.get("link")):
                return bad_param(kind, f"Parameter '{kind}' must have exactly one of id or link.")
            media = self.state.media.get(str(obj.get("id"))) if obj.get("id") else None
            if obj.get("id") and (media is None or media.channel_key != sender.key):
                return bad_param(f"{kind}.id", "Unknown media id for this phone number.")
        if kind == "template" and isinstance(obj, dict):
            name, language = obj.get("name"), (obj.get("language") or {}).get("code")
            found = next((t for t in self.state.templates.get(sender.waba_id or "", [])
                          if t["name"] == name and t["language"] == language), None)
            if found is None or found["status"] != "APPROVED":
                return ycloud_error(400, "BAD_REQUEST", "", whatsapp_code="132001")
            given = sum(len(c.get("parameters") or []) for c in obj.get("components") or []
                        if isinstance(c, dict) and str(c.get("type", "")).lower() == "body")
            if found.get("parameter_format") == "POSITIONAL" and given != body_parameters(found):
                return ycloud_error(400, "BAD_REQUEST", "", whatsapp_code="132000")
        return None

    def _summary(self, sender: Channel, kind: str, body: dict[str, Any]) -> str:
        obj = body.get(kind) or {}
        if kind == "text":
            return str(obj.get("body", ""))
        if kind == "template":
            return rendered_text(self.state.template(sender.waba_id, obj), obj) or f"[plantilla {obj.get('name')}]"
        if kind in MEDIA_SEND_TYPES:
            return str(obj.get("caption") or obj.get("filename") or f"[{kind}]")
        return f"[{kind}]"

    # -- templates, numbers ------------------------------------------------------------------------------
    def templates(self, request: Request, numbers: list[Channel]) -> Response:
        q = request.query_params
        try:
            page, limit = int(q.get("page", "1")), int(q.get("limit", "10"))
        except ValueError:
            return bad_param("page", "Parameters 'page' and 'limit' must be integers.")
        if not 1 <= limit <= 100:
            return bad_param("limit", "Parameter 'limit' should be between 1 and 100.")
        if not 1 <= page <= 10000:
            return bad_param("page", "Parameter 'page' should be between 1 and 10000.")
        wabas = {c.waba_id for c in numbers if c.waba_id}
        if q.get("filter.wabaId"):
            wabas &= {q["filter.wabaId"]}
        with self.state.lock:
            items = [(waba, t) for waba in sorted(wabas) for t in self.state.templates.get(waba, [])]
        for param, key in (("filter.name", "name"), ("filter.language", "language"), ("filter.status", "status"),
                           ("filter.category", "category")):
            if q.get(param):
                items = [(w, t) for w, t in items if t[key] == q[param]]
        offset = (page - 1) * limit
        chunk = [self.template(w, t) for w, t in items[offset:offset + limit]]
        out: dict[str, Any] = {"offset": offset, "limit": limit, "length": len(chunk)}
        if q.get("includeTotal", "false").lower() == "true":
            out["total"] = len(items)
        out["items"] = chunk
        return JSONResponse(out)

    @staticmethod
    def template(waba_id: str, t: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"wabaId": waba_id, "name": t["name"], "language": t["language"],
                               "category": t["category"], "components": t["components"], "status": t["status"],
                               "qualityRating": "GREEN" if t["status"] == "APPROVED" else "UNKNOWN",
                               "createTime": env.iso(t["created_at"]), "updateTime": env.iso(t["created_at"]),
                               "officialTemplateId": t["id"]}
        if t.get("rejected_reason"):
            out["reason"] = t["rejected_reason"]
        return out

    @staticmethod
    def phone_number(channel: Channel) -> dict[str, Any]:
        return {"id": new_id("", 8), "phoneNumber": channel.key, "displayPhoneNumber": channel.key,
                "countryCode": channel.key[1:3], "wabaId": channel.waba_id, "verifiedName": channel.verified_name,
                "qualityRating": "GREEN", "messagingLimit": "TIER_1K", "status": "CONNECTED",
                "nameStatus": "APPROVED", "codeVerificationStatus": "VERIFIED"}

    # -- media ------------------------------------------------------------------------------------------
    async def upload(self, request: Request, numbers: list[Channel], phone: str) -> Response:
        owner = next((c for c in numbers if c.key == phone), None)
        if owner is None:
            return bad_param("phoneNumber", "Unknown phone number for this account.")
        form = await request.form(max_part_size=MAX_UPLOAD)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return bad_param("file", "Parameter 'file' is required.")
        media = self.state.add_media(owner.key, await upload.read(), upload.content_type or "application/octet-stream",
                                     upload.filename)
        return JSONResponse({"id": media.id})

    def download(self, numbers: list[Channel], media_id: str) -> Response:
        media = self.state.media.get(media_id)
        if media is None or media.channel_key not in {c.key for c in numbers}:
            return not_found("Media")
        failure = self.state.take_failure("media", media.channel_key)
        if failure is not None:
            if failure.kind.startswith("drop"):
                return dropped_response()
            status, code, message = OWN_ERRORS.get(failure.kind, OWN_ERRORS["5xx"])
            return ycloud_error(status, code, message)
        return Response(media.data, media_type=media.mime_type,
                        headers={"content-disposition": f'attachment; filename="{media.filename or media.id}"'})

    def mark_read(self, numbers: list[Channel], inbound_id: str, *, typing: bool) -> Response:
        keys = {c.key for c in numbers}
        with self.state.lock:
            found = next((m for m in self.state.inbound if m.channel_key in keys and (
                m.message_id == inbound_id
                or m.payload.get("whatsappInboundMessage", {}).get("id") == inbound_id)), None)
        if found is None:
            return not_found("Inbound message")
        self.state.mark_inbound_read(found.channel_key, found.message_id)
        self.state.log_action("ycloud", found.channel_key, "typing" if typing else "read",
                              message_id=found.message_id)
        return Response(status_code=200)
