"""The API document tells the truth: the error body we send, who may call each operation, and
typed attachments. Clients generated from /openapi.json depend on these facts."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator

from tests.helpers import post_inbound

PUBLIC = {("post", "/api/auth/login"), ("get", "/healthz"), ("get", "/readyz")}
UNSAFE = {"post", "put", "patch", "delete"}


@pytest.fixture
async def spec(client: httpx2.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def validator_for(spec: dict[str, Any], name: str) -> Draft202012Validator:
    # Resolve "#/components/..." references against the whole document.
    return Draft202012Validator({**spec, "$ref": f"#/components/schemas/{name}"})


async def test_errors_are_documented_as_we_send_them(spec: dict[str, Any], client: httpx2.AsyncClient,
                                                     make_tenant) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    error = schemas["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]
    assert set(schemas["FieldError"]["required"]) == {"field", "message", "type"}
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, \
                    (method, path, status)
        if op.get("requestBody") or op.get("parameters"):
            assert "422" in op["responses"], (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)
    # and what the server sends matches the document
    t = await make_tenant()
    validator = validator_for(spec, "Error")
    bodies = [
        await client.post("/admin/tags", headers=t.headers, json={"name": "x", "color": "green"}),  # 422 details
        await client.get(f"/admin/contacts/{t.id}", headers=t.headers),  # 404
        await client.get("/admin/tags"),  # 401
        await client.post(f"/api/v1/inbound/{t.channel_id}", headers={"content-type": "application/json"},
                          content=b"{nope"),  # 422 invalid_json
    ]
    assert [r.status_code for r in bodies] == [422, 404, 401, 422]
    for response in bodies:
        assert list(validator.iter_errors(response.json())) == [], response.text
    assert bodies[0].json()["error"]["details"][0]["field"] == "color"


async def test_security_schemes_and_who_may_call_what(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie", "name": "tertulia_session"}
    assert schemes["csrf"] == {**schemes["csrf"], "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert schemes["inboundToken"] == {**schemes["inboundToken"], "type": "http", "scheme": "bearer"}
    for method, path, op in operations(spec):
        security = op["security"]  # every operation says, public ones with []
        if (method, path) in PUBLIC:
            assert security == [], (method, path)
        elif path == "/api/v1/inbound/{channel_id}":
            assert security == [{"inboundToken": []}]
        elif path == "/widget/{channel_id}/session":  # any visitor of a site the channel allows
            assert security == [], (method, path)
        elif path.startswith("/widget/"):  # a visitor's own token, never the panel's cookie
            assert security == [{"visitorToken": []}], (method, path)
        elif path == "/webhooks/{channel_id}":  # the subscription check is answered to anyone with the token
            assert security == ([{"webhookSignature": []}] if method == "post" else []), (method, path)
        elif path == "/api/auth/logout":
            assert security == [{"session": [], "csrf": []}, {}]  # without a session there is nothing to end
        elif path.startswith("/api/auth/") or path == "/api/chat/uploads":  # the panel's own (a cookie)
            assert security == [{"session": [], "csrf": []} if method in UNSAFE else {"session": []}], (method, path)
        else:
            session = {"session": [], "csrf": []} if method in UNSAFE else {"session": []}
            assert security == [session, {"apiToken": []}], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)


async def test_attachments_are_typed(spec: dict[str, Any], client: httpx2.AsyncClient, make_tenant) -> None:
    schemas = spec["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/Attachment"}
    assert schemas["MessageOut"]["properties"]["attachments"]["items"] == ref
    assert schemas["InboundMessage"]["properties"]["attachments"]["items"] == ref
    attachment = schemas["Attachment"]
    assert attachment["properties"]["type"]["enum"] == ["image", "video", "audio", "document"]
    # a file still at the provider has no url yet (its `status` says so)
    assert set(attachment["required"]) == {"type"} and {"url", "filename", "status"} <= set(attachment["properties"])
    # a message as returned validates against its documented schema (no nulls for absent fields)
    t = await make_tenant()
    files = [{"type": "document", "url": "https://cdn.example.com/f.pdf", "filename": "factura.pdf"}]
    conv = (await post_inbound(client, t, "", external_id="c1", attachments=files)).json()["conversation_id"]
    message = (await client.get(f"/admin/chats/{conv}/messages", headers=t.headers)).json()[0]
    assert message["attachments"] == files
    assert list(validator_for(spec, "MessageOut").iter_errors(message)) == []
