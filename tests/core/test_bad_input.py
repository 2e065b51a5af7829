"""Bad input gets a clear 4xx {"error": {"code", "message"}}, never a 500, and stores nothing."""

from __future__ import annotations

import uuid

import httpx2
import pytest

from tests.helpers import post_inbound


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
    for url in (f"/admin/chats/{bad_id}/messages", f"/admin/contacts/{bad_id}", f"/admin/tags/{bad_id}"):
        assert_error(await client.get(url, headers=t.headers), (404, 405, 422))


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
