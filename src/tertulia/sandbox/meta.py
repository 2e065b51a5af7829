"""Meta's Graph API as Tertulia uses it: WhatsApp Cloud (messages, media, phone number, WABA,
templates) and the Messenger/Instagram Send and User Profile APIs, under `/vNN.N/` (any version).

Errors use Graph's body `{"error": {"message", "type", "code", "error_subcode"?, "error_data"?,
"fbtrace_id"}}` with the HTTP status Meta documents for the code; which codes answer the request and
which arrive later as a `failed` status is written in docs/channels.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tertulia.sandbox import envelopes as env
from tertulia.sandbox.state import Channel, Failure, SandboxState, SentMessage, new_wamid
from tertulia.sandbox.templates import body_parameters, rendered_text
from tertulia.sandbox.traffic import HUMAN_AGENT_WINDOW, WINDOW, Traffic
from tertulia.sandbox.wire import bearer_token, dropped_response, json_body

VERSION = re.compile(r"^v\d+\.\d+$")
WHATSAPP_SEND_TYPES = ("text", "image", "video", "audio", "document", "sticker", "template", "interactive",
                       "reaction", "location", "contacts")
MEDIA_SEND_TYPES = ("image", "video", "audio", "document", "sticker")
MAX_UPLOAD = 100 * 1024 * 1024
ASYNC_BY_DEFAULT = {"131047", "131026", "131049"}  # Meta reports these in a `failed` status webhook
PAGE_KINDS = ("facebook", "instagram")

# Synchronous Graph errors: kind -> (HTTP status, code, subcode, message, details)
SYNC_ERRORS: dict[str, tuple[int, int, int | None, str, str]] = {
    "429": (429, 80007, None, "(#80007) Rate limit issues", "The WhatsApp Business Account reached its rate limit."),
    "130429": (400, 130429, None, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    "131056": (400, 131056, None, "(#131056) (Business Account, Consumer Account) pair rate limit hit",
               env.META_ERRORS["131056"][1]),
    "131048": (400, 131048, None, "(#131048) Spam rate limit hit", env.META_ERRORS["131048"][1]),
    "4": (400, 4, None, "(#4) Application request limit reached", "The app reached its API call limit."),
    "80007": (400, 80007, None, "(#80007) Rate limit issues", "The WhatsApp Business Account reached its rate limit."),
    "100": (400, 100, None, "(#100) Invalid parameter", "Invalid parameter."),
    "5xx": (500, 131000, None, "(#131000) Something went wrong", "Something went wrong."),
    "503": (503, 2, None, "(#2) Service temporarily unavailable", "Service temporarily unavailable."),
    "190": (401, 190, 463, "Error validating access token: Session has expired.", ""),
    "131047": (400, 131047, None, "(#131047) Re-engagement message", env.META_ERRORS["131047"][1]),
    "131026": (400, 131026, None, "(#131026) Message undeliverable", env.META_ERRORS["131026"][1]),
    "131049": (400, 131049, None, "(#131049) " + env.META_ERRORS["131049"][0], env.META_ERRORS["131049"][1]),
    "404": (400, 100, 33, "Unsupported get request.", ""),
}
# The same kinds on the Messenger Platform (rate limits are code 613 there).
PAGE_ERRORS: dict[str, tuple[int, int, int | None, str]] = {
    "429": (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    "130429": (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    "131056": (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    "131048": (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    "4": (400, 4, None, "(#4) Application request limit reached"),
    "80007": (400, 613, None, "(#613) Calls to this api have exceeded the rate limit."),
    "100": (400, 100, None, "(#100) Invalid parameter"),
    "5xx": (500, 2, None, "An unexpected error has occurred. Please retry your request later."),
    "503": (503, 2, None, "Service temporarily unavailable"),
    "190": (401, 190, 463, "Error validating access token: Session has expired."),
    "131047": (400, 10, 2018278, "(#10) This message is sent outside of allowed window."),
    "131049": (400, 10, 2018278, "(#10) This message is sent outside of allowed window."),
    "131026": (400, 100, 2018001, "(#100) No matching user found"),
    "404": (400, 100, 33, "Unsupported post request."),
}


def graph_error(status: int, code: int, message: str, *, subcode: int | None = None, details: str | None = None,
                kind: str = "OAuthException", whatsapp: bool = True) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details} if whatsapp else details
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    headers = {}
    if status == 401:
        headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def missing_object(object_id: str, method: str = "get") -> JSONResponse:
    return graph_error(400, 100, f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot "
                       "be loaded due to missing permissions, or does not support this operation.", subcode=33,
                       kind="GraphMethodException")


def invalid(details: str, whatsapp: bool = True) -> JSONResponse:
    return graph_error(400, 100, "(#100) Invalid parameter", details=details, whatsapp=whatsapp)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return -1
    return int(text[7:]) if text.startswith("offset:") and text[7:].isdigit() else -1


def _only(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return record
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in record.items() if k in wanted or k == "id"}


class GraphApi:
    def __init__(self, state: SandboxState, traffic: Traffic) -> None:
        self.state = state
        self.traffic = traffic

    # -- entry points -------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        parts = [p for p in request.url.path.split("/") if p]
        if parts and VERSION.match(parts[0]):
            parts = parts[1:]
        response = await self._route(request, parts)
        self.state.log_request("meta", request.method, request.url.path, response.status_code)
        return response

    async def _route(self, request: Request, parts: list[str]) -> Response:
        token = bearer_token(request)
        if token is None:
            return graph_error(400, 104, "An access token is required to request this resource.")
        if not parts:
            return graph_error(400, 100, "Unsupported request.")
        all_kinds = ("whatsapp_cloud", *PAGE_KINDS)
        caller = self.state.channel_by_token(token, all_kinds)
        if caller is None:
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        object_id, rest = parts[0], parts[1:]
        method = request.method
        if method == "POST" and rest == ["messages"]:
            if caller.kind in PAGE_KINDS:
                return await self.page_send(request, caller, object_id)
            return await self.whatsapp_send(request, caller, object_id)
        if method == "POST" and rest == ["media"]:
            return await self.upload(request, caller, object_id)
        if method == "GET" and rest == ["message_templates"]:
            return self.templates(request, caller, object_id)
        if method == "GET" and rest == ["phone_numbers"]:
            return self.phone_numbers(request, caller, object_id)
        if method == "GET" and not rest:
            return self.get_object(request, caller, object_id)
        if method == "DELETE" and not rest:
            media = self.state.media.get(object_id)
            if media is None or media.channel_key != caller.key:
                return missing_object(object_id, "delete")
            with self.state.lock:
                self.state.media.pop(object_id, None)
            return JSONResponse({"success": True})
        return missing_object(object_id, method.lower())

    # -- injected failures --------------------------------------------------------------------------
    def _sync_failure(self, failure: Failure, page: bool) -> Response | None:
        """The error response for a failure that answers the request itself; None when the send is
        accepted and the failure arrives later (or the connection drops)."""
        if failure.kind in ("drop", "drop_after_send"):
            return None
        mode = failure.mode or ("async" if failure.kind in ASYNC_BY_DEFAULT else "sync")
        if mode == "async" and not page:
            return None
        if page:
            status, code, subcode, message = PAGE_ERRORS[failure.kind]
            return graph_error(status, code, message, subcode=subcode, whatsapp=False)
        status, code, subcode, message, details = SYNC_ERRORS[failure.kind]
        return graph_error(status, code, message, subcode=subcode, details=details or None)

    # -- WhatsApp Cloud: send -------------------------------------------------------------------------
    async def whatsapp_send(self, request: Request, caller: Channel, phone_number_id: str) -> Response:
        if caller.kind != "whatsapp_cloud" or caller.key != phone_number_id:
            return missing_object(phone_number_id, "post")
        body = await json_body(request)
        if body is None:
            return invalid("The request body must be a JSON object.")
        if body.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.",
                               details="The parameter messaging_product is required.")
        if body.get("status") == "read":
            return self._mark_read(caller, body)
        to = body.get("to") or body.get("recipient")
        if not isinstance(to, str) or not to.strip():
            return graph_error(400, 100, "(#100) The parameter to is required.",
                               details="The parameter to is required.")
        recipient = "".join(ch for ch in to if ch.isdigit()) if body.get("to") else to
        kind = body.get("type", "text")
        problem = self._check_send(caller, kind, body)
        if problem is not None:
            return problem
        failure = self.state.take_failure("send", caller.key, recipient)
        if failure is not None:
            answer = self._sync_failure(failure, page=False)
            if answer is not None:
                return answer
            if failure.kind == "drop":
                return dropped_response()
        async_failure = self.traffic.later_failure(failure, caller.key, recipient, kind)
        sent = self.state.record_sent(SentMessage(
            self.state.next_seq(), "whatsapp_cloud", caller.key, recipient, new_wamid(), kind,
            self._summary(caller, kind, body), body, time.time(), time.monotonic(), endpoint="messages",
            context_id=(body.get("context") or {}).get("message_id"),
            biz_opaque_callback_data=body.get("biz_opaque_callback_data")))
        self.traffic.after_send(caller, sent, async_failure)
        if failure is not None and failure.kind == "drop_after_send":
            return dropped_response()
        message: dict[str, Any] = {"id": sent.message_id}
        if kind == "template":
            message["message_status"] = "accepted"
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": recipient}],
                             "messages": [message]})

    def _mark_read(self, caller: Channel, body: dict[str, Any]) -> Response:
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or message_id not in self.state.inbound_by_id:
            return invalid("Invalid message_id: it is not a message this phone number received.")
        self.state.mark_inbound_read(caller.key, message_id)
        typing = body.get("typing_indicator")
        self.state.log_action("whatsapp_cloud", caller.key, "typing" if typing else "read", message_id=message_id,
                              typing_indicator=typing)
        return JSONResponse({"success": True})

    def _check_send(self, caller: Channel, kind: Any, body: dict[str, Any]) -> Response | None:
        if kind not in WHATSAPP_SEND_TYPES:
            return invalid(f"Unsupported message type {kind!r}.")
        obj = body.get(kind)
        if not isinstance(obj, dict) and kind != "contacts":
            return graph_error(400, 100, f"(#100) The parameter {kind} is required.",
                               details=f"The parameter {kind} is required.")
        assert isinstance(obj, dict) or kind == "contacts"
        if kind == "text":
            text = obj.get("body") if isinstance(obj, dict) else None
            if not isinstance(text, str) or not text:
                return graph_error(400, 100, "(#100) The parameter text['body'] is required.",
                                   details="The parameter text['body'] is required.")
            if len(text) > 4096:
                return invalid("Param text['body'] must be at most 4096 characters long.")
        if kind in MEDIA_SEND_TYPES and isinstance(obj, dict):
            if bool(obj.get("id")) == bool(obj.get("link")):
                return invalid(f"Param {kind} must have exactly one of id or link.")
            media = self.state.media.get(str(obj.get("id"))) if obj.get("id") else None
            if obj.get("id") and (media is None or media.channel_key != caller.key):
                return invalid(f"Param {kind}['id'] is not a valid media id for this phone number.")
        if kind == "template" and isinstance(obj, dict):
            return self._check_template(caller, obj)
        return None

    def _check_template(self, caller: Channel, obj: dict[str, Any]) -> Response | None:
        name, language = obj.get("name"), (obj.get("language") or {}).get("code")
        if not name or not language:
            return invalid("Param template must have name and language.code.")
        found = next((t for t in self.state.templates.get(caller.waba_id or "", [])
                      if t["name"] == name and t["language"] == language), None)
        if found is None or found["status"] != "APPROVED":
            return graph_error(400, 132001, "(#132001) Template name does not exist in the translation",
                               details=f"template name ({name}) does not exist in {language}")
        given = sum(len(c.get("parameters") or []) for c in obj.get("components") or []
                    if isinstance(c, dict) and str(c.get("type", "")).lower() == "body")
        expected = body_parameters(found) if found.get("parameter_format") == "POSITIONAL" else given
        if given != expected:
            return graph_error(400, 132000, "(#132000) Number of parameters does not match the expected number of "
                               "params", details=f"body: number of localizable_params ({given}) does not match "
                               f"the expected number of params ({expected})")
        return None

    def _summary(self, caller: Channel, kind: str, body: dict[str, Any]) -> str:
        obj = body.get(kind)
        if kind == "text" and isinstance(obj, dict):
            return str(obj.get("body", ""))
        if kind in MEDIA_SEND_TYPES and isinstance(obj, dict):
            return str(obj.get("caption") or obj.get("filename") or f"[{kind}]")
        if kind == "template" and isinstance(obj, dict):
            return (rendered_text(self.state.template(caller.waba_id, obj), obj)
                    or f"[plantilla {obj.get('name')}]")
        if kind == "reaction" and isinstance(obj, dict):
            return str(obj.get("emoji", ""))
        if kind == "interactive" and isinstance(obj, dict):
            return str((obj.get("body") or {}).get("text", "[interactivo]"))
        return f"[{kind}]"

    # -- WhatsApp Cloud: media ------------------------------------------------------------------------
    async def upload(self, request: Request, caller: Channel, phone_number_id: str) -> Response:
        if caller.kind != "whatsapp_cloud" or caller.key != phone_number_id:
            return missing_object(phone_number_id, "post")
        form = await request.form(max_part_size=MAX_UPLOAD)
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.",
                               details="The parameter messaging_product is required.")
        if upload is None or isinstance(upload, str):
            return graph_error(400, 100, "(#100) The parameter file is required.",
                               details="The parameter file is required.")
        data = await upload.read()
        mime = str(form.get("type") or upload.content_type or "application/octet-stream")
        media = self.state.add_media(caller.key, data, mime, upload.filename)
        return JSONResponse({"id": media.id})

    def media_url(self, media_id: str) -> str:
        expires = int(time.time() + self.traffic.config.media_url_ttl)
        return (f"{self.traffic.base_url}/whatsapp_business/attachments/?mid={media_id}&ext={expires}"
                f"&hash={self._url_hash(media_id, expires)}")

    def _url_hash(self, media_id: str, expires: int) -> str:
        key = self.state.media[media_id].sha256.encode()
        return hmac.new(key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:24]

    async def download(self, request: Request) -> Response:
        """The media URL `GET /{media-id}` answered (Meta serves it from another host)."""
        response = self._download(request)
        self.state.log_request("meta", "GET", "/whatsapp_business/attachments/", response.status_code,
                               media_id=request.query_params.get("mid", ""))
        return response

    def _download(self, request: Request) -> Response:
        token = bearer_token(request)
        caller = self.state.channel_by_token(token, ("whatsapp_cloud",)) if token else None
        if caller is None:
            return Response("Unauthorized", status_code=401)
        media_id = request.query_params.get("mid", "")
        expires = request.query_params.get("ext", "")
        media = self.state.media.get(media_id)
        if media is None or not expires.isdigit() or media.channel_key != caller.key:
            return Response("Not Found", status_code=404)
        if not hmac.compare_digest(request.query_params.get("hash", ""), self._url_hash(media_id, int(expires))):
            return Response("Not Found", status_code=404)
        if int(expires) < time.time():
            return Response("URL expired", status_code=404)
        failure = self.state.take_failure("media", caller.key)
        if failure is not None:
            return self._media_failure(failure)
        return Response(media.data, media_type=media.mime_type,
                        headers={"content-disposition": f'attachment; filename="{media.filename or media.id}"'})

    def _media_failure(self, failure: Failure) -> Response:
        if failure.kind.startswith("drop"):
            return dropped_response()
        if failure.kind == "404":
            return Response("Not Found", status_code=404)
        status, code, subcode, message, details = SYNC_ERRORS.get(failure.kind, SYNC_ERRORS["5xx"])
        return graph_error(status, code, message, subcode=subcode, details=details or None)

    # -- look-ups -------------------------------------------------------------------------------------
    def get_object(self, request: Request, caller: Channel, object_id: str) -> Response:
        fields = request.query_params.get("fields")
        if object_id in self.state.media:
            media = self.state.media[object_id]
            if media.channel_key != caller.key:
                return missing_object(object_id)
            failure = self.state.take_failure("media", caller.key)
            if failure is not None:
                if failure.kind == "404":
                    return missing_object(object_id)
                return self._media_failure(failure)
            return JSONResponse({"messaging_product": "whatsapp", "url": self.media_url(media.id),
                                 "mime_type": media.mime_type, "sha256": media.sha256,
                                 "file_size": len(media.data), "id": media.id})
        if caller.kind == "whatsapp_cloud":
            if object_id == caller.key:
                return JSONResponse(_only(self.phone_number(caller), fields))
            if object_id == caller.waba_id:
                return JSONResponse(_only({"id": caller.waba_id, "name": caller.verified_name,
                                           "timezone_id": "1", "currency": "USD",
                                           "message_template_namespace": "sandbox_" + (caller.waba_id or ""),
                                           "account_review_status": "APPROVED"}, fields))
            return missing_object(object_id)
        if object_id in (caller.key, "me"):
            page = {"id": caller.key, "name": caller.name or caller.verified_name}
            if caller.kind == "instagram":
                page["username"] = caller.username or "negocio.sandbox"
            return JSONResponse(_only(page, fields))
        customer = self.state.find_customer(caller.key, object_id)
        if customer is None:
            return missing_object(object_id)
        picture = f"{self.traffic.base_url}/_cdn/avatar/{customer.id}.png"
        if caller.kind == "instagram":
            profile = {"name": customer.name, "username": customer.username or customer.name.lower().replace(" ", "."),
                       "profile_pic": picture, "id": customer.id}
        else:
            first, _, last = customer.name.partition(" ")
            profile = {"first_name": first, "last_name": last, "profile_pic": picture, "id": customer.id}
        return JSONResponse(_only(profile, fields or ",".join(profile)))

    @staticmethod
    def phone_number(channel: Channel) -> dict[str, Any]:
        return {"verified_name": channel.verified_name, "code_verification_status": "VERIFIED",
                "display_phone_number": "+" + channel.display_phone_number, "quality_rating": "GREEN",
                "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"},
                "messaging_limit_tier": "TIER_1K", "name_status": "APPROVED", "id": channel.key}

    def phone_numbers(self, request: Request, caller: Channel, waba_id: str) -> Response:
        if caller.kind != "whatsapp_cloud" or caller.waba_id != waba_id:
            return missing_object(waba_id)
        numbers = [self.phone_number(c) for c in self.state.channels_of(("whatsapp_cloud",)) if c.waba_id == waba_id]
        return JSONResponse({"data": numbers, "paging": {"cursors": {"before": _cursor(0),
                                                                     "after": _cursor(len(numbers) - 1)}}})

    def templates(self, request: Request, caller: Channel, waba_id: str) -> Response:
        if caller.kind != "whatsapp_cloud" or caller.waba_id != waba_id:
            return missing_object(waba_id)
        q = request.query_params
        try:
            limit = int(q.get("limit", "25"))
        except ValueError:
            return invalid("Param limit must be an integer.", whatsapp=False)
        if not 1 <= limit <= 1000:
            return invalid("Param limit must be between 1 and 1000.", whatsapp=False)
        with self.state.lock:
            items = list(self.state.templates.get(waba_id, []))
        for param, key in (("status", "status"), ("category", "category"), ("language", "language")):
            if q.get(param):
                wanted = {v.strip().upper() if key != "language" else v.strip() for v in q[param].split(",")}
                items = [t for t in items if t[key] in wanted]
        if q.get("name"):
            items = [t for t in items if q["name"].lower() in t["name"].lower()]
        after, before = _offset(q.get("after")), _offset(q.get("before"))
        if after == -1 or before == -1:
            return invalid("Invalid cursor.", whatsapp=False)
        start = after + 1 if after is not None else max(0, (before or 0) - limit) if before is not None else 0
        end = min(start + limit, len(items) if before is None else before)
        page = [_only({k: v for k, v in t.items() if k != "created_at"}, q.get("fields")) for t in items[start:end]]
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(end - 1)}
            base = f"{self.traffic.base_url}{request.url.path}"
            keep = "&".join(f"{k}={v}" for k, v in q.items() if k not in ("after", "before", "access_token"))
            prefix = f"{base}?{keep}&" if keep else f"{base}?"
            if end < len(items):
                paging["next"] = f"{prefix}after={_cursor(end - 1)}"
            if start > 0:
                paging["previous"] = f"{prefix}before={_cursor(start)}"
        return JSONResponse({"data": page, "paging": paging} if paging else {"data": page})

    # -- Messenger / Instagram ------------------------------------------------------------------------
    async def page_send(self, request: Request, caller: Channel, page_id: str) -> Response:
        if page_id not in (caller.key, "me"):
            return missing_object(page_id, "post")
        uploaded: tuple[bytes, str, str | None] | None = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body, uploaded = await self._page_form(request)
        else:
            body = await json_body(request)
        if body is None:
            return invalid("The request body must be a JSON object.", whatsapp=False)
        recipient = (body.get("recipient") or {}).get("id") if isinstance(body.get("recipient"), dict) else None
        if not recipient:
            return graph_error(400, 100, "(#100) The parameter recipient is required")
        customer = self.state.find_customer(caller.key, str(recipient))
        if customer is None:
            return graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
        if body.get("sender_action"):
            if body["sender_action"] not in ("typing_on", "typing_off", "mark_seen"):
                return invalid("Param sender_action must be one of typing_on, typing_off, mark_seen", whatsapp=False)
            self.state.log_action(caller.kind, caller.key, body["sender_action"], recipient=customer.id)
            return JSONResponse({"recipient_id": customer.id})
        message = body.get("message")
        problem = self._check_page_message(body, message)
        if problem is not None:
            return problem
        assert isinstance(message, dict)
        failure = self.state.take_failure("send", caller.key, customer.id)
        if failure is not None and failure.kind != "drop_after_send":
            answer = self._sync_failure(failure, page=True)
            return answer if answer is not None else dropped_response()
        if self.traffic.config.enforce_window:
            tag = body.get("tag") if body.get("messaging_type") == "MESSAGE_TAG" else None
            window = HUMAN_AGENT_WINDOW if tag == "HUMAN_AGENT" else WINDOW
            if not self.state.window_open(caller.key, customer.id, window):
                status, code, subcode, text = PAGE_ERRORS["131047"]
                return graph_error(status, code, text, subcode=subcode, whatsapp=False)
        attachment = message.get("attachment") or {}
        kind = "text" if "text" in message else str(attachment.get("type", "file"))
        summary = str(message.get("text") or f"[{kind}]")
        mid = "m_" + secrets.token_urlsafe(30)
        url = (attachment.get("payload") or {}).get("url")
        if uploaded is not None:  # upload and send in one request: the file is kept, served by the CDN
            data, mime, filename = uploaded
            url = self.traffic.media_link(caller, self.state.add_media(caller.key, data, mime, filename))
        sent = self.state.record_sent(SentMessage(
            self.state.next_seq(), caller.kind, caller.key, customer.id, mid, kind, summary,
            {**body, "url": url} if url else body, time.time(), time.monotonic(), endpoint="messages",
            context_id=(message.get("reply_to") or {}).get("mid")))
        self.traffic.after_send(caller, sent, None)
        if failure is not None:
            return dropped_response()
        return JSONResponse({"recipient_id": customer.id, "message_id": mid})

    @staticmethod
    async def _page_form(request: Request) -> tuple[dict[str, Any] | None, tuple[bytes, str, str | None] | None]:
        """A send as form data (Meta's upload and send): JSON fields, and the file as `filedata`."""
        form = await request.form(max_part_size=MAX_UPLOAD)
        body: dict[str, Any] = {}
        uploaded = None
        for key, value in form.multi_items():
            if isinstance(value, str):
                try:
                    body[key] = json.loads(value) if value[:1] in "{[" else value
                except ValueError:
                    return None, None
            elif key == "filedata":
                uploaded = (await value.read(), value.content_type or "application/octet-stream", value.filename)
        message = body.get("message")
        if uploaded is not None and isinstance(message, dict) and isinstance(message.get("attachment"), dict):
            payload = message["attachment"].setdefault("payload", {})
            if isinstance(payload, dict):
                payload.setdefault("attachment_id", "upload")  # the file is the form's
        return body, uploaded

    @staticmethod
    def _check_page_message(body: dict[str, Any], message: Any) -> Response | None:
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return graph_error(400, 100, "(#100) The parameter message[text] or message[attachment] is required")
        if message.get("text") is not None and len(str(message["text"])) > 2000:
            return invalid("param message[text] must be UTF-8 encoded and less than 2000 characters", whatsapp=False)
        messaging_type = body.get("messaging_type", "RESPONSE")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return invalid("Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG", whatsapp=False)
        if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
            return invalid("Param tag is required with messaging_type MESSAGE_TAG", whatsapp=False)
        attachment = message.get("attachment")
        if attachment is not None:
            payload = attachment.get("payload") if isinstance(attachment, dict) else None
            kind = attachment.get("type") if isinstance(attachment, dict) else None
            if (not isinstance(payload, dict) or kind not in ("image", "video", "audio", "file", "template")
                    or not (payload.get("url") or payload.get("attachment_id") or kind == "template")):
                return invalid("param message[attachment] must have a type and a payload url or attachment_id",
                               whatsapp=False)
        return None

