"""Bad input gets a clear 4xx {"error": {"code", "message"}}, never a 500, and stores nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2
import pytest
from fastapi.routing import APIRoute

from tertulia.kit.json_body import JsonBodyRoute
from tests.helpers import iter_routes, post_inbound


def assert_error(resp: httpx2.Response, status: int | tuple[int, ...]) -> dict[str, str]:
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status_code in statuses, f"{resp.status_code} {resp.text[:300]}"
    err = resp.json()["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    return err


async def test_malformed_json_and_wrong_types(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    h = {**t.headers, "content-type": "application/json"}
    err = assert_error(await client.post("/admin/whatsapp/send", headers=h, content=b'{"conversation_id": '), 422)
    assert err["code"] == "invalid_json"
    assert_error(await client.post("/admin/whatsapp/send", headers=h, content=b"[1, 2]"), 422)
    assert_error(await client.post("/admin/whatsapp/send", headers=t.headers,
                                   json={"conversation_id": 42, "message": ["x"], "channel_source": "fax"}), 422)
    assert_error(await client.post(f"/admin/conversations/{conv['id']}/human-override", headers=t.headers,
                                   json={"locked": "maybe"}), 422)
    assert_error(await client.patch(f"/admin/contacts/{conv['contact_id']}", headers=t.headers,
                                    json={"notes": 5}), 422)
    assert_error(await client.post("/admin/tags", headers=t.headers, json={"name": "x", "color": "green"}), 422)
    assert_error(await client.post(f"/api/v1/inbound/{t.channel_id}", headers=t.inbound_headers,
                                   json={"external_message_id": "", "contact": {"external_id": "c"}}), 422)
    assert_error(await client.post(f"/api/v1/inbound/{t.channel_id}", headers=t.inbound_headers,
                                   json={"external_message_id": "n1", "contact": {"external_id": "c"},
                                         "timestamp": "2026-01-01T00:00:00"}), 422)  # no timezone


async def test_oversized_and_nul_strings(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    assert_error(await client.patch(f"/admin/contacts/{conv['contact_id']}", headers=t.headers,
                                    json={"notes": "n" * 10_001}), 422)
    assert (await client.patch(f"/admin/contacts/{conv['contact_id']}", headers=t.headers,
                               json={"notes": "n" * 10_000})).status_code == 200
    assert_error(await client.patch(f"/admin/contacts/{conv['contact_id']}", headers=t.headers,
                                    json={"display_name": "a\x00b"}), 422)
    assert_error(await client.post("/admin/tags", headers=t.headers, json={"name": "t" * 65}), 422)
    assert_error(await client.post(f"/admin/chats/{conv['id']}/messages", headers=t.headers,
                                   json={"message": "hola\x00"}), 422)
    assert_error(await post_inbound(client, t, "x" * 20_000, external_id="c1"), 422)
    assert_error(await client.get("/admin/chats/summary", headers=t.headers, params={"q": "a\x00"}), 422)
    assert_error(await client.get("/admin/chats/summary", headers=t.headers, params={"q": "q" * 500}), 422)
    msgs = (await client.get(f"/admin/chats/{conv['id']}/messages", headers=t.headers)).json()
    assert len(msgs) == 1  # nothing rejected was stored


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "%20", "00000000-0000-0000-0000-00000000000g"])
async def test_malformed_ids(client: httpx2.AsyncClient, make_tenant, bad_id: str) -> None:
    t = await make_tenant()
    for url, field in ((f"/admin/chats/{bad_id}/messages", "path.conversation_id"),
                       (f"/admin/contacts/{bad_id}", "path.contact_id"),
                       (f"/admin/tags/{bad_id}", "path.tag_id")):
        err = assert_error(await client.patch(url, headers=t.headers, json={"name": "x"})
                           if url.startswith("/admin/tags/") else await client.get(url, headers=t.headers), 422)
        assert err["code"] == "validation_error"
        assert [d["field"] for d in err["details"]] == [field], err  # type: ignore[index]
    # a tag has no GET of its own: the method is what is wrong, whatever the id
    assert assert_error(await client.get(f"/admin/tags/{bad_id}", headers=t.headers), 405)["code"] == \
        "method_not_allowed"


async def test_unknown_ids_and_out_of_range_numbers(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    conv = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]
    unknown = uuid.uuid4()
    assert assert_error(await client.get(f"/admin/chats/{unknown}/messages", headers=t.headers), 404)["code"] == \
        "conversation_not_found"
    assert_error(await client.get(f"/admin/contacts/{unknown}", headers=t.headers), 404)
    assert_error(await client.put(f"/admin/contacts/{conv['contact_id']}/tags/{unknown}", headers=t.headers), 404)
    assert_error(await client.post("/admin/whatsapp/send", headers=t.headers,
                                   json={"conversation_id": str(unknown), "message": "x", "channel_source": "api"}), 404)
    for params in ({"after_id": 2**70}, {"after_id": -1}, {"before_id": "abc"}, {"limit": 10**6}):
        assert_error(await client.get(f"/admin/chats/{conv['id']}/messages", headers=t.headers, params=params), 422)
    assert_error(await client.get("/admin/chats/summary", headers=t.headers, params={"offset": 10**12}), 422)
    assert_error(await client.get("/admin/events", headers=t.headers, params={"after": 2**64}), 422)
    assert_error(await client.get("/admin/nothing-here", headers=t.headers), 404)
    assert_error(await client.delete("/admin/chats/summary", headers=t.headers), 405)


async def test_inbox_list_query_parameters(client: httpx2.AsyncClient, make_tenant) -> None:
    """The list's query string is validated in one call (kit.web.QueryModel): every bad value is
    a 422 naming its parameter, a repeated one counts with its last value, an unknown one is
    ignored, and the OpenAPI document lists the same parameters."""
    t = await make_tenant()
    for i in range(3):
        await post_inbound(client, t, "hola", external_id=f"c{i}")
    for params, field in (({"limit": "abc"}, "limit"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"offset": -1}, "offset"), ({"human_filter": "robots"}, "human_filter"),
                          ({"channel": ""}, "channel"), ({"status": "closed"}, "status"),
                          ({"cursor": "c" * 201}, "cursor"), ({"tag": "t" * 65}, "tag")):
        err = assert_error(await client.get("/admin/chats/summary", headers=t.headers, params=params), 422)
        assert err["code"] == "validation_error"
        assert [d["field"] for d in err["details"]] == [f"query.{field}"], (params, err)  # type: ignore[index]
    two = await client.get("/admin/chats/summary?limit=1&limit=2&colour=red", headers=t.headers)
    assert two.status_code == 200 and len(two.json()) == 2
    spec = (await client.get("/openapi.json")).json()["paths"]["/admin/chats/summary"]["get"]
    assert [p["name"] for p in spec["parameters"]] == ["human_filter", "channel", "tag", "status", "q", "limit",
                                                       "offset", "cursor"]
    assert {p["in"] for p in spec["parameters"]} == {"query"}
    limit = next(p for p in spec["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)


# Text no database can store, anywhere in a JSON body: a NUL (PostgreSQL text and jsonb refuse it)
# or a lone UTF-16 surrogate (it has no UTF-8 form). Sent as raw bytes so that the escapes reach
# the server exactly as written.
UNSTORABLE_ATTRIBUTES = [
    (b'{"a\\u0000": 1}', "custom_attributes", "NUL"),
    (b'{"a": {"b": "x\\u0000"}}', "custom_attributes.a.b", "NUL"),
    (b'{"a": ["ok", "x\\u0000"]}', "custom_attributes.a.1", "NUL"),
    (b'{"k": "\\ud800"}', "custom_attributes.k", "surrogate"),
    (b'{"\\ud800": 1}', "custom_attributes", "surrogate"),
    (b'{"k": "\\udfff tail"}', "custom_attributes.k", "surrogate"),
]


@pytest.mark.parametrize(("attributes", "field", "what"), UNSTORABLE_ATTRIBUTES)
async def test_unstorable_text_is_refused_never_altered(client: httpx2.AsyncClient, make_tenant, attributes: bytes,
                                                         field: str, what: str) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    contact_id = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["contact_id"]
    url = f"/admin/contacts/{contact_id}"
    h = {**t.headers, "content-type": "application/json"}
    assert (await client.patch(url, headers=h, content=b'{"custom_attributes": {"plan": "oro"}}')).status_code == 200
    err = assert_error(await client.patch(url, headers=h, content=b'{"custom_attributes": ' + attributes + b"}"), 422)
    assert err["code"] == "validation_error" and what in err["message"]
    assert [d["field"] for d in err["details"]] == [field]  # type: ignore[index]
    contact = (await client.get(url, headers=t.headers)).json()
    assert contact["custom_attributes"] == {"plan": "oro"}  # nothing stored, nothing altered
    # a well-formed astral character (a surrogate pair in JSON) is text like any other
    ok = await client.patch(url, headers=h, content=b'{"custom_attributes": {"mood": "\\ud83d\\ude00"}}')
    assert ok.status_code == 200 and ok.json()["custom_attributes"] == {"mood": "\U0001f600"}


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xed\xa0\x80", "not UTF-8"),  # a surrogate encoded as if it were UTF-8
    (b"\xff\xfe", "not UTF-8"),
    (b"\xc3", "not UTF-8"),  # cut in the middle of a character
])
async def test_bytes_that_are_not_utf8(client: httpx2.AsyncClient, make_tenant, raw: bytes, reason: str) -> None:
    t = await make_tenant()
    body = b'{"external_message_id": "' + raw + b'", "contact": {"external_id": "c"}, "content": "hola"}'
    err = assert_error(await client.post(f"/api/v1/inbound/{t.channel_id}", content=body,
                                         headers={**t.inbound_headers, "content-type": "application/json"}), 422)
    assert err["code"] == "invalid_json" and reason in err["message"]
    assert (await client.get("/admin/chats/summary", headers=t.headers)).json() == []  # nothing stored


@pytest.mark.parametrize("body", [
    b'{"notes": "x", "custom_attributes": {"n": NaN}}',
    b'{"custom_attributes": {"n": Infinity}}',
    b'{"custom_attributes": {"n": 1e999}}',
    b'{"custom_attributes": {"n": ' + b"9" * 5000 + b"}}",
    b'{"custom_attributes": {"n": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
])
async def test_numbers_and_nesting_json_does_not_have(client: httpx2.AsyncClient, make_tenant, body: bytes) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    contact_id = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["contact_id"]
    err = assert_error(await client.patch(f"/admin/contacts/{contact_id}", content=body,
                                          headers={**t.headers, "content-type": "application/json"}), 422)
    assert err["code"] == "invalid_json"
    contact = (await client.get(f"/admin/contacts/{contact_id}", headers=t.headers)).json()
    assert contact["notes"] == "" and contact["custom_attributes"] == {}


async def test_nesting_deeper_than_any_payload_needs(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await post_inbound(client, t, "hola", external_id="c1")
    contact_id = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["contact_id"]
    url = f"/admin/contacts/{contact_id}"
    h = {**t.headers, "content-type": "application/json"}
    deep = b'{"custom_attributes": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}"
    err = assert_error(await client.patch(url, headers=h, content=deep), 422)
    assert "nested more than 32 levels" in err["message"]
    fine = b'{"custom_attributes": {"a": ' + b"[" * 20 + b"]" * 20 + b"}}"
    assert (await client.patch(url, headers=h, content=fine)).status_code == 200


@pytest.mark.parametrize(("tool", "args"), [
    ("add_tag", b'{"name": "v\\u0000"}'),
    ("remove_tag", b'{"name": "v\\u0000"}'),
    ("search_knowledge", b'{"query": "\\ud800"}'),
    ("update_contact", b'{"notes": "\\ud800"}'),
])
async def test_tool_arguments_that_cannot_be_stored(client: httpx2.AsyncClient, make_tenant, tool: str,
                                                    args: bytes) -> None:
    """These were 500s, one of them carrying the SQL statement and the tenant's id in its body."""
    t = await make_tenant()
    conv = (await post_inbound(client, t, "hola", external_id="c1")).json()["conversation_id"]
    assistant = (await client.post("/admin/assistants", headers=t.headers, json={"name": "Nora"})).json()
    body = (b'{"tool": "' + tool.encode() + b'", "args": ' + args + b', "conversation_id": "' + conv.encode()
            + b'", "assistant_id": "' + assistant["id"].encode() + b'"}')
    resp = await client.post("/mcp/invoke", content=body, headers={**t.headers, "content-type": "application/json"})
    err = assert_error(resp, 422)
    assert err["details"][0]["field"].startswith("args.")  # type: ignore[index]
    assert str(t.id) not in resp.text and "SELECT" not in resp.text
    assert (await client.get("/admin/tags", headers=t.headers)).json() == []


async def test_a_model_calling_a_tool_with_unstorable_text(db, make_tenant, client: httpx2.AsyncClient) -> None:
    """The same text from a model's tool call (no request body involved) is refused as invalid
    arguments, which go back to the model, instead of failing the turn in the database."""
    from tertulia.assistants.tools import ToolContext, ToolError, run_tool

    t = await make_tenant()
    conv = (await post_inbound(client, t, "hola", external_id="c1")).json()["conversation_id"]
    contact_id = (await client.get("/admin/chats/summary", headers=t.headers)).json()[0]["contact_id"]
    ctx = ToolContext(tenant_id=t.id, conversation_id=uuid.UUID(conv), contact_id=uuid.UUID(contact_id))
    async with db.session(t.id) as session:
        for name, args in (("add_tag", {"name": "v\x00"}), ("update_contact", {"notes": "\ud800"}),
                           ("add_tag", {"name": {"nested": "\x00"}})):
            with pytest.raises(ToolError) as refused:
                await run_tool(session, ctx, name, args)
            assert refused.value.kind == "invalid_arguments"
    assert (await client.get("/admin/tags", headers=t.headers)).json() == []


def test_every_request_body_is_decoded_strictly(app: Any) -> None:
    """A router built without `route_class=JsonBodyRoute` would let its bodies skip the checks above."""
    routes = [(path, r) for path, r in iter_routes(app.routes) if isinstance(r, APIRoute) and r.body_field is not None]
    assert len(routes) > 20
    assert [f"{sorted(r.methods)} {path}" for path, r in routes if not isinstance(r, JsonBodyRoute)] == []
