"""A `web` channel's settings and snippet, the origin check, visitor sessions and identity."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import httpx2

from tertulia.config import Settings
from tertulia.kit.storage import FileStore
from tests.helpers import MULTIPART_TYPE, multipart_stream, open_spools
from tests.widget.conftest import SITE, WebChannel, create_web_channel

ORIGIN = {"Origin": SITE}


async def _session(client: httpx2.AsyncClient, ch: WebChannel, **body: object) -> httpx2.Response:
    return await client.post(f"/widget/{ch.id}/session", json=body, headers=ORIGIN)


async def _send(client: httpx2.AsyncClient, ch: WebChannel, token: str, text: str,
                client_id: str | None = None) -> httpx2.Response:
    return await client.post(f"/widget/{ch.id}/messages", headers={**ORIGIN, "Authorization": f"Bearer {token}"},
                             json={"client_id": client_id or uuid.uuid4().hex, "text": text})


async def test_web_channel_has_settings_snippet_and_secret(client: httpx2.AsyncClient, web_channel: WebChannel) -> None:
    t = web_channel.tenant
    got = (await client.get(f"/admin/channels/{web_channel.id}", headers=t.headers)).json()
    assert got["snippet"] == web_channel.snippet
    assert f'data-channel="{web_channel.id}"' in got["snippet"] and "/widget/widget.js" in got["snippet"]
    assert got["web"]["allowed_origins"] == [SITE] and got["web"]["colour"] == "#0f766e"
    assert len(got["web"]["identity_secret"]) >= 32
    r = await client.patch(f"/admin/channels/{web_channel.id}", headers=t.headers,
                           json={"web": {"colour": "#111111", "rotate_identity_secret": True}})
    assert r.status_code == 200, r.text
    assert r.json()["web"]["colour"] == "#111111" and r.json()["web"]["greeting"] == "¡Hola! ¿En qué te ayudamos?"
    assert r.json()["web"]["identity_secret"] != web_channel.secret
    bad = await client.patch(f"/admin/channels/{web_channel.id}", headers=t.headers,
                             json={"web": {"colour": "red", "allowed_origins": ["javascript:alert(1)"]}})
    assert bad.status_code == 422
    other = (await client.get(f"/admin/channels/{t.channel_id}", headers=t.headers)).json()
    assert other["snippet"] is None and other["web"] is None


async def test_origin_is_checked_on_every_request(client: httpx2.AsyncClient, web_channel: WebChannel) -> None:
    ok = await _session(client, web_channel)
    assert ok.status_code == 200, ok.text
    assert ok.headers["access-control-allow-origin"] == SITE
    assert ok.json()["config"]["greeting"] == "¡Hola! ¿En qué te ayudamos?" and ok.json()["config"]["ask_email"]
    token = ok.json()["token"]
    for origin in ("https://evil.example.test", "null", None):
        headers = {"Origin": origin} if origin else {}
        r = await client.post(f"/widget/{web_channel.id}/session", json={}, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        r = await client.get(f"/widget/{web_channel.id}/messages",
                             headers={**headers, "Authorization": f"Bearer {token}"})
        assert r.status_code == 403
    pre = await client.options(f"/widget/{web_channel.id}/messages", headers={
        **ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 204 and "authorization" in pre.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in pre.headers


async def test_visitor_token_scopes_to_its_own_conversation(client: httpx2.AsyncClient,
                                                            web_channel: WebChannel, make_tenant) -> None:
    first = (await _session(client, web_channel)).json()
    r = await _send(client, web_channel, first["token"], "Mi pedido 1234 no llegó")
    assert r.status_code == 202, r.text
    conv = r.json()["conversation_id"]
    again = (await _session(client, web_channel, visitor_id=first["visitor_id"])).json()  # a reload, a second tab
    assert again["conversation_id"] == conv and again["messages"][0]["text"] == "Mi pedido 1234 no llegó"
    stranger = (await _session(client, web_channel)).json()
    assert stranger["visitor_id"] != first["visitor_id"] and stranger["conversation_id"] is None
    mine = await client.get(f"/widget/{web_channel.id}/messages",
                            headers={**ORIGIN, "Authorization": f"Bearer {stranger['token']}"})
    assert mine.json() == {"conversation_id": None, "messages": []}
    forged = first["token"][:-3] + ("AAA" if not first["token"].endswith("AAA") else "BBB")
    r = await client.get(f"/widget/{web_channel.id}/messages", headers={**ORIGIN, "Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_visitor_token"
    # a token of another channel (another tenant's) opens nothing here
    other = await create_web_channel(client, await make_tenant("w2"), assistant=False)
    theirs = (await _session(client, other)).json()["token"]
    r = await client.get(f"/widget/{web_channel.id}/messages", headers={**ORIGIN, "Authorization": f"Bearer {theirs}"})
    assert r.status_code == 401
    # the panel sees the visitor's message in its inbox, on the web channel
    rows = (await client.get("/admin/chats/summary", headers=web_channel.tenant.headers)).json()
    assert any(row["id"] == conv and row["channel_source"] == "web" for row in rows)


async def test_signed_identity_merges_and_unsigned_is_ignored(client: httpx2.AsyncClient,
                                                              web_channel: WebChannel) -> None:
    anon = (await _session(client, web_channel)).json()
    conv = (await _send(client, web_channel, anon["token"], "Hola, soy Ana")).json()["conversation_id"]
    unsigned = (await _session(client, web_channel, visitor_id=anon["visitor_id"], identifier="ana@example.test",
                               identifier_hash="0" * 64)).json()
    assert unsigned["identified"] is False
    digest = hmac.new(web_channel.secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    signed = (await _session(client, web_channel, visitor_id=anon["visitor_id"], identifier="user-42",
                             identifier_hash=digest, name="Ana")).json()
    assert signed["identified"] is True and signed["conversation_id"] == conv
    await _send(client, web_channel, signed["token"], "Ya inicié sesión")
    # from another browser (another visitor id), the signed user finds the same conversation
    elsewhere = (await _session(client, web_channel, identifier="user-42", identifier_hash=digest)).json()
    assert elsewhere["conversation_id"] == conv
    assert [m["text"] for m in elsewhere["messages"] if m["by"] == "visitor"] == ["Hola, soy Ana", "Ya inicié sesión"]
    # the same identifier without the hash is a stranger
    spoof = (await _session(client, web_channel, identifier="user-42")).json()
    assert spoof["identified"] is False and spoof["conversation_id"] is None


async def test_limits_and_bad_input(client: httpx2.AsyncClient, web_channel: WebChannel) -> None:
    s = (await _session(client, web_channel)).json()
    r = await _send(client, web_channel, s["token"], "x" * 4001)
    assert r.status_code == 422
    r = await _send(client, web_channel, s["token"], "   ")
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_message"
    same = uuid.uuid4().hex
    one = (await _send(client, web_channel, s["token"], "una vez", same)).json()
    two = (await _send(client, web_channel, s["token"], "una vez", same)).json()
    assert two["duplicate"] is True and two["message"]["id"] == one["message"]["id"]
    codes = [(await _send(client, web_channel, s["token"], f"mensaje {n}")).status_code for n in range(25)]
    assert 429 in codes and codes.count(202) <= 20
    r = await client.post(f"/widget/{uuid.uuid4()}/session", json={}, headers=ORIGIN)
    assert r.status_code == 404


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


async def test_attachments_are_checked_stored_and_readable_by_their_visitor(
        client: httpx2.AsyncClient, web_channel: WebChannel) -> None:
    s = (await _session(client, web_channel)).json()
    auth = {**ORIGIN, "Authorization": f"Bearer {s['token']}"}
    fake = await client.post(f"/widget/{web_channel.id}/uploads", headers=auth,
                             files={"file": ("foto.png", b"MZ\x90\x00not an image at all", "image/png")})
    assert fake.status_code == 415
    exe = await client.post(f"/widget/{web_channel.id}/uploads", headers=auth,
                            files={"file": ("setup.exe", b"MZ\x90\x00", "application/octet-stream")})
    assert exe.status_code == 415
    up = await client.post(f"/widget/{web_channel.id}/uploads", headers=auth,
                           files={"file": ("foto.png", PNG, "image/png")})
    assert up.status_code == 200, up.text
    assert up.json()["type"] == "image"
    sent = await client.post(f"/widget/{web_channel.id}/messages", headers=auth,
                             json={"client_id": uuid.uuid4().hex, "text": "", "upload_ids": [up.json()["upload_id"]]})
    assert sent.status_code == 202, sent.text
    attachment = sent.json()["message"]["attachments"][0]
    assert attachment["type"] == "image" and "/widget/files/" in attachment["url"]
    path = attachment["url"].split("://", 1)[1].split("/", 1)[1]
    got = await client.get("/" + path)
    assert got.status_code == 200 and got.content == PNG
    tampered = await client.get("/" + path[:-4] + "abcd")
    assert tampered.status_code == 404
    # the team sees the file in the inbox like any channel's
    conv = sent.json()["conversation_id"]
    messages = (await client.get(f"/admin/chats/{conv}/messages", headers=web_channel.tenant.headers)).json()
    assert messages[-1]["attachments"][0]["url"].startswith("/media/")
    # another visitor cannot send this visitor's upload
    other = (await _session(client, web_channel)).json()
    r = await client.post(f"/widget/{web_channel.id}/messages", headers={**ORIGIN, "Authorization": f"Bearer {other['token']}"},
                          json={"client_id": uuid.uuid4().hex, "upload_ids": [up.json()["upload_id"]]})
    assert r.status_code == 404


async def test_an_upload_is_spooled_checked_and_refused_past_its_limit(
        client: httpx2.AsyncClient, web_channel: WebChannel, app: Any, settings: Settings) -> None:
    """A document larger than the in-memory spool is checked from the disk and stored whole; one past
    the 10 MB limit is refused while it streams, and neither leaves anything behind."""
    s = (await _session(client, web_channel)).json()
    auth = {**ORIGIN, "Authorization": f"Bearer {s['token']}", **MULTIPART_TYPE}
    piece = "Pedido nº 1234 entregado en Cádiz\n".encode() * 2000
    ok = await client.post(f"/widget/{web_channel.id}/uploads", headers=auth,
                           content=multipart_stream("pedidos.txt", 3 * 2**20, piece))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["type"], ok.json()["size"]) == ("document", 3 * 2**20)
    big = await client.post(f"/widget/{web_channel.id}/uploads", headers=auth,
                            content=multipart_stream("pedidos.txt", 12 * 2**20, piece))
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    store: FileStore = app.state.store
    stored = [f.key for f in await store.list(f"media/{web_channel.tenant.id}")]
    assert stored == [f"media/{web_channel.tenant.id}/{ok.json()['upload_id']}"]
    assert open_spools(settings) == []
