"""The inbox list: order, filters, offset and keyset paging."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from tests.helpers import post_inbound


async def _seed(client: httpx2.AsyncClient, t, n: int) -> list[str]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    names = []
    for i in range(n):
        name = f"Cliente {i:02d}"
        ts = (base + timedelta(minutes=i)).isoformat()
        r = await post_inbound(client, t, f"hola {i}", external_id=f"c{i}", name=name,
                               phone=f"+52155123400{i:02d}", timestamp=ts)
        assert r.status_code == 202, r.text
        names.append(name)
    return names


async def test_order_offset_and_cursor(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    names = await _seed(client, t, 7)
    expected = list(reversed(names))
    page = await client.get("/admin/chats/summary", params={"limit": 3}, headers=t.headers)
    assert [r["display_name"] for r in page.json()] == expected[:3]
    cursor = page.headers["x-next-cursor"]
    page2 = await client.get("/admin/chats/summary", params={"limit": 3, "cursor": cursor}, headers=t.headers)
    assert [r["display_name"] for r in page2.json()] == expected[3:6]
    page3 = await client.get("/admin/chats/summary", params={"limit": 3, "cursor": page2.headers["x-next-cursor"]},
                             headers=t.headers)
    assert [r["display_name"] for r in page3.json()] == expected[6:]
    assert "x-next-cursor" not in page3.headers
    by_offset = await client.get("/admin/chats/summary", params={"limit": 3, "offset": 3}, headers=t.headers)
    assert [r["display_name"] for r in by_offset.json()] == expected[3:6]
    bad = await client.get("/admin/chats/summary", params={"cursor": "not-a-cursor"}, headers=t.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"


async def test_new_message_moves_conversation_to_top(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    names = await _seed(client, t, 3)
    await post_inbound(client, t, "¡sigo aquí!", external_id="c0")
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert rows[0]["display_name"] == names[0] and rows[0]["last_message"] == "¡sigo aquí!"


async def test_filters_tag_channel_status_and_search(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    await _seed(client, t, 4)
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    vip = (await client.post("/admin/tags", headers=t.headers, json={"name": "VIP", "color": "#22c55e"})).json()
    late = (await client.post("/admin/tags", headers=t.headers, json={"name": "Pago pendiente", "color": "#ef4444"})).json()
    target = rows[2]
    assert (await client.put(f"/admin/contacts/{target['contact_id']}/tags/{vip['id']}", headers=t.headers)).status_code == 200
    assert (await client.put(f"/admin/contacts/{target['contact_id']}/tags/{late['id']}", headers=t.headers)).status_code == 200

    by_id = (await client.get("/admin/chats/summary", params={"tag": vip["id"]}, headers=t.headers)).json()
    by_name = (await client.get("/admin/chats/summary", params={"tag": "vip"}, headers=t.headers)).json()
    assert [r["id"] for r in by_id] == [r["id"] for r in by_name] == [target["id"]]
    # most recently applied first: the "active" tag
    assert [tag["name"] for tag in by_id[0]["tags"]] == ["Pago pendiente", "VIP"]
    assert (await client.get("/admin/chats/summary", params={"tag": "nope"}, headers=t.headers)).json() == []

    assert len((await client.get("/admin/chats/summary", params={"channel": "api"}, headers=t.headers)).json()) == 4
    assert (await client.get("/admin/chats/summary", params={"channel": "whatsapp"}, headers=t.headers)).json() == []
    assert len((await client.get("/admin/chats/summary", params={"status": "open"}, headers=t.headers)).json()) == 4
    assert (await client.get("/admin/chats/summary", params={"status": "resolved"}, headers=t.headers)).json() == []

    found = (await client.get("/admin/chats/summary", params={"q": "cliente 01"}, headers=t.headers)).json()
    assert [r["display_name"] for r in found] == ["Cliente 01"]
    by_phone = (await client.get("/admin/chats/summary", params={"q": "5512340003"}, headers=t.headers)).json()
    assert [r["display_name"] for r in by_phone] == ["Cliente 03"]
    assert (await client.get("/admin/chats/summary", params={"q": "100%_"}, headers=t.headers)).json() == []
    bad = await client.get("/admin/chats/summary", params={"human_filter": "robots"}, headers=t.headers)
    assert bad.status_code == 422
    assert (await client.get("/admin/chats/summary", params={"limit": 101}, headers=t.headers)).status_code == 422
    assert (await client.get("/admin/chats/summary", params={"limit": 0}, headers=t.headers)).status_code == 422


async def test_search_answers_the_same_whichever_plan_it_takes(client: httpx2.AsyncClient, make_tenant,
                                                              monkeypatch) -> None:
    """A page found among the newest conversations walked is the answer; otherwise every match is
    collected and sorted. Both give the same rows: force the second with a tiny window. (The
    window is PostgreSQL's: SQLite just filters.)"""
    from tertulia.conversations import repository

    if os.environ.get("TERTULIA_TEST_DB", "sqlite") != "postgresql":
        pytest.skip("the search's two plans are PostgreSQL's (run with TERTULIA_TEST_DB=postgresql)")

    t = await make_tenant()
    await _seed(client, t, 5)
    results = {}
    for threshold in (1000, 1):
        monkeypatch.setattr(repository, "Q_WINDOW", threshold)
        many = (await client.get("/admin/chats/summary", params={"q": "cliente"}, headers=t.headers)).json()
        one = (await client.get("/admin/chats/summary", params={"q": "cliente 03"}, headers=t.headers)).json()
        # A full page inside the walked window (the first plan), and the same page by offset.
        page = (await client.get("/admin/chats/summary", params={"q": "cliente", "limit": 2, "offset": 1},
                                 headers=t.headers)).json()
        results[threshold] = ([r["display_name"] for r in many], [r["display_name"] for r in one],
                              [r["display_name"] for r in page])
    assert results[1000] == results[1] == ([f"Cliente {i:02d}" for i in (4, 3, 2, 1, 0)], ["Cliente 03"],
                                           ["Cliente 03", "Cliente 02"])


async def test_search_follows_contact_edits(client: httpx2.AsyncClient, make_tenant, monkeypatch) -> None:
    """The search reads the conversation's copy of its contact's name and phone: an edit of the
    contact moves it at once, whichever plan the search takes."""
    from tertulia.conversations import repository

    t = await make_tenant()
    await _seed(client, t, 3)
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    target = rows[1]
    edited = await client.patch(f"/admin/contacts/{target['contact_id']}", headers=t.headers,
                                json={"display_name": "Zoe Ibarguren", "phone": "+34911222333"})
    assert edited.status_code == 200, edited.text
    for threshold in (1000, 0):
        monkeypatch.setattr(repository, "Q_WINDOW", threshold)

        async def names(q: str) -> list[str]:
            found = await client.get("/admin/chats/summary", params={"q": q}, headers=t.headers)
            return [r["display_name"] for r in found.json()]

        assert await names("ibargur") == ["Zoe Ibarguren"]
        assert await names("+349112") == ["Zoe Ibarguren"]
        assert await names(target["display_name"]) == []
        assert await names(target["customer_phone"]) == []
        assert await names("cliente") == [r["display_name"] for r in rows if r is not target]


async def test_search_ignores_accents_and_case_and_reads_phones_as_digits(client: httpx2.AsyncClient, make_tenant,
                                                                        monkeypatch) -> None:
    """Names are compared folded (the database's triggers and the query fold alike), phones by
    their digits, whichever plan the search takes."""
    from tertulia.conversations import repository

    t = await make_tenant()
    for i, name in enumerate(["María López", "ÁLVARO NÚÑEZ", "Mario Lopera"]):
        await post_inbound(client, t, "hola", external_id=f"a{i}", name=name, phone=f"+3460012345{i}")
    for threshold in (1000, 0):
        monkeypatch.setattr(repository, "Q_WINDOW", threshold)

        async def names(q: str) -> list[str]:
            found = await client.get("/admin/chats/summary", params={"q": q}, headers=t.headers)
            assert found.status_code == 200, found.text
            return [r["display_name"] for r in found.json()]

        assert await names("maria") == ["María López"]
        assert await names("MARÍA lópez") == ["María López"]
        assert await names("lopez") == ["María López"]
        assert await names("nunez") == await names("Álvaro Núñez") == ["ÁLVARO NÚÑEZ"]
        assert await names("+34 600 123-451") == ["ÁLVARO NÚÑEZ"]
        assert await names("(600) 12 34 52") == ["Mario Lopera"]
        assert await names("lop") == ["Mario Lopera", "María López"]


async def test_search_finds_conversations_by_message_text(client: httpx2.AsyncClient, make_tenant,
                                                          monkeypatch) -> None:
    """Words of a message find its conversation (any accents, any case, word starts), with the
    newest matching message and an excerpt of it; a conversation found by its contact carries none."""
    from tertulia.conversations import repository

    t = await make_tenant()
    await post_inbound(client, t, "Buenas, ¿cuánto tarda el envío a Sevilla?", external_id="s1", name="Rosa Prieto")
    await post_inbound(client, t, "Vale, gracias", external_id="s1", name="Rosa Prieto")
    await post_inbound(client, t, "Quiero devolver las zapatillas", external_id="s2", name="Sevilla Ruiz")
    await post_inbound(client, t, "Hola", external_id="s3", name="Pablo Gil")
    messages = (await client.get("/admin/chats/summary", params={"q": "rosa"}, headers=t.headers)).json()
    rosa_id = messages[0]["id"]
    sent = (await client.get(f"/admin/chats/{rosa_id}/messages", headers=t.headers)).json()
    envio_id = next(m["id"] for m in sent if "envío" in m["content"])
    # PostgreSQL's window probes its first conversations' days, then (0) tests them against the
    # words' days when they are rare, or (1) probes them all when not; (0, 0): rare matches alone.
    for threshold, probed in ((1000, 100), (1000, 0), (1, 0), (0, 0)):
        monkeypatch.setattr(repository, "Q_WINDOW", threshold)
        monkeypatch.setattr(repository, "Q_PROBED", probed)

        async def search(q: str, limit: int = 20) -> list[tuple[str, Any]]:
            found = await client.get("/admin/chats/summary", params={"q": q, "limit": limit}, headers=t.headers)
            assert found.status_code == 200, found.text
            return [(r["display_name"], r["match"]) for r in found.json()]

        assert await search("ENVIO sevi") == [("Rosa Prieto", {"message_id": envio_id,
                                                                "excerpt": "Buenas, ¿cuánto tarda el envío a Sevilla?"})]
        # "sevilla" is also a contact's name: that conversation comes without an excerpt.
        assert await search("sevilla") == [("Sevilla Ruiz", None), ("Rosa Prieto", {
            "message_id": envio_id, "excerpt": "Buenas, ¿cuánto tarda el envío a Sevilla?"})]
        assert [name for name, _ in await search("zapatilla")] == ["Sevilla Ruiz"]
        assert await search("envio madrid") == []
        # Both words in the conversation, on one day, but in two messages: not a match (a page of
        # one, so that PostgreSQL's window, not only its rare matches, answers).
        assert await search("envio gracias") == await search("envio gracias", limit=1) == []
        assert [name for name, _ in await search("gracias", limit=1)] == ["Rosa Prieto"]
        assert await search("tarda") == await search("TARDÁ")


async def test_unread_count_for_the_tab_title(client: httpx2.AsyncClient, make_tenant) -> None:
    t = await make_tenant()
    assert (await client.get("/admin/chats/unread", headers=t.headers)).json() == {"conversations": 0, "messages": 0}
    await _seed(client, t, 3)
    await post_inbound(client, t, "¿hola?", external_id="c0")
    assert (await client.get("/admin/chats/unread", headers=t.headers)).json() == {"conversations": 3, "messages": 4}
    rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert (await client.post(f"/admin/chats/{rows[0]['id']}/read", headers=t.headers)).status_code == 200
    assert (await client.get("/admin/chats/unread", headers=t.headers)).json() == {"conversations": 2, "messages": 2}
    other = await make_tenant()
    assert (await client.get("/admin/chats/unread", headers=other.headers)).json() == {"conversations": 0, "messages": 0}


async def test_a_busy_days_words_go_to_parts(client: httpx2.AsyncClient, make_tenant, db) -> None:
    """PostgreSQL: a day's words are kept in parts of ~500 (a day of ever-new words would otherwise
    rewrite a growing row on every message); a word of any part finds the conversation."""
    from sqlalchemy import text

    if os.environ.get("TERTULIA_TEST_DB", "sqlite") != "postgresql":
        pytest.skip("conversation_words is PostgreSQL's (run with TERTULIA_TEST_DB=postgresql)")

    t = await make_tenant()
    await post_inbound(client, t, " ".join(f"pedido{i}" for i in range(600)), external_id="b1", name="Bea Gil")
    await post_inbound(client, t, "¿Y el pedido zafiro?", external_id="b1", name="Bea Gil")
    await post_inbound(client, t, "Hola", external_id="b2", name="Otro")
    for q in ("pedido7", "pedido599", "zafiro"):
        for limit in (20, 1):
            found = await client.get("/admin/chats/summary", params={"q": q, "limit": limit}, headers=t.headers)
            assert [r["display_name"] for r in found.json()] == ["Bea Gil"], q
    async with db.session(cross_tenant="the test's look at the parts") as session:
        parts = (await session.execute(text("SELECT part, length(words) FROM conversation_words "
                                            "WHERE tenant_id = :t ORDER BY part"), {"t": t.id})).all()
    assert [(p, n) for p, n in parts if n > 1] == [(0, 600), (1, 4)]


async def test_a_page_is_two_statements_and_its_transaction(client: httpx2.AsyncClient, make_tenant, db) -> None:
    """One list request by API token: the token check (which also states the tenant, on PostgreSQL)
    and the list, in one read transaction. Each statement
    is a round trip to the database, and the list's latency is mostly theirs (bench/inbox_list.py)."""
    from sqlalchemy import event

    t = await make_tenant()
    other = await make_tenant()
    await _seed(client, t, 2)
    await post_inbound(client, other, "hola", external_id="x", name="De otro")
    seen: list[tuple[Any, str]] = []

    def statement(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.startswith("BEGIN"):  # SQLite's, emitted on the "begin" event
            return
        seen.append((conn.connection.dbapi_connection, sql.split()[0] if "api_tokens" not in sql else "token"))

    def transaction(name: str) -> Any:
        return lambda conn: seen.append((conn.connection.dbapi_connection, name))

    engines = {db.engine.sync_engine, db.read_engine.sync_engine}
    listeners = [("before_cursor_execute", statement), ("begin", transaction("BEGIN")),
                 ("commit", transaction("COMMIT")), ("rollback", transaction("ROLLBACK"))]
    for engine in engines:
        for name, fn in listeners:
            event.listen(engine, name, fn)
    try:
        rows = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    finally:
        for engine in engines:
            for name, fn in listeners:
                event.remove(engine, name, fn)
    assert [r["display_name"] for r in rows] == ["Cliente 01", "Cliente 00"]
    mine = next(conn for conn, what in seen if what == "token")  # the app's workers use the pool too
    assert [what for conn, what in seen if conn is mine] == ["BEGIN", "token", "SELECT", "COMMIT"]
