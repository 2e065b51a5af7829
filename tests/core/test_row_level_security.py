"""Row-level security on PostgreSQL: the database's own wall behind the query filters.

A transaction that states its tenant sees and writes only that tenant's rows, whatever its
statements say; one that states nothing sees nothing; crossing tenants is explicit."""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

import tertulia.models  # noqa: F401  (every table)
from tertulia.channels.repository import channels_by_id
from tertulia.contacts.models import Contact, Tag
from tertulia.conversations.models import Conversation, Message
from tertulia.kit.crypto import hash_token
from tertulia.kit.db import Base, Database, set_tenant
from tertulia.tenancy.repository import get_api_token_with_tenant
from tests.helpers import post_inbound

pytestmark = pytest.mark.skipif(os.environ.get("TERTULIA_TEST_DB", "sqlite") != "postgresql",
                                reason="row-level security is PostgreSQL's (run with TERTULIA_TEST_DB=postgresql)")

# A person's rows, not a tenant's: no policy.
PERSON_TABLES = {"users", "auth_sessions"}


async def test_every_tenant_owned_table_has_a_policy(db: Database) -> None:
    owned = {t.name for t in Base.metadata.sorted_tables if "tenant_id" in t.c} - PERSON_TABLES | {"tenants"}
    async with db.read_session(cross_tenant="the test reads the catalog") as session:
        rows = (await session.execute(text(
            "SELECT c.relname, c.relrowsecurity, count(p.policyname) AS policies FROM pg_class c "
            "LEFT JOIN pg_policies p ON p.tablename = c.relname AND p.schemaname = current_schema() "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
            "GROUP BY c.relname, c.relrowsecurity"))).all()
    guarded = {r.relname for r in rows if r.relrowsecurity and r.policies}
    assert owned - guarded == set(), "tenant-owned tables without row-level security"


async def _two_tenants(client: httpx2.AsyncClient, make_tenant: Any) -> tuple[Any, Any]:
    a, b = await make_tenant("rls-a"), await make_tenant("rls-b")
    for t, names in ((a, ["Ana", "Alba"]), (b, ["Beto"])):
        for name in names:
            assert (await post_inbound(client, t, "hola", external_id=name, name=name)).status_code == 202
    return a, b


async def test_a_query_that_forgets_its_tenant_sees_only_its_own(client: httpx2.AsyncClient, make_tenant: Any,
                                                                 db: Database) -> None:
    a, b = await _two_tenants(client, make_tenant)
    async with db.read_session(a.id) as session:  # no WHERE tenant_id = ... anywhere below
        names = set((await session.execute(select(Contact.display_name))).scalars())
        tenants = set((await session.execute(select(Conversation.tenant_id))).scalars())
        messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
    assert names == {"Ana", "Alba"} and tenants == {a.id} and messages == 2
    async with db.read_session(b.id) as session:
        assert set((await session.execute(select(Contact.display_name))).scalars()) == {"Beto"}
    async with db.read_session() as session:  # no tenant stated: nothing at all
        assert (await session.execute(select(func.count()).select_from(Conversation))).scalar_one() == 0
    async with db.read_session(cross_tenant="the test looks at both tenants") as session:
        both = set((await session.execute(select(Contact.display_name).where(
            Contact.tenant_id.in_([a.id, b.id])))).scalars())
    assert both == {"Ana", "Alba", "Beto"}


async def test_writes_cannot_reach_another_tenant(client: httpx2.AsyncClient, make_tenant: Any,
                                                  db: Database) -> None:
    a, b = await _two_tenants(client, make_tenant)
    async with db.session(a.id) as session:  # an UPDATE that forgot its tenant touches only a's rows
        await session.execute(update(Contact).values(notes="tocado").execution_options(synchronize_session=False))
    async with db.read_session(b.id) as session:
        assert set((await session.execute(select(Contact.notes))).scalars()) == {""}
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.session(a.id) as session:  # writing a row of b from a's transaction
            session.add(Tag(id=uuid.uuid4(), tenant_id=b.id, name="intrusa", name_key="intrusa"))
            await session.flush()
    async with db.read_session(b.id) as session:
        assert (await session.execute(select(func.count()).select_from(Tag))).scalar_one() == 0


async def test_the_token_check_limits_its_transaction_to_the_tokens_tenant(make_tenant: Any, db: Database) -> None:
    """The credential check states the token's tenant in its own round trip: a request's next
    statement sees that tenant's rows only, and a read request's transaction turns READ ONLY."""
    a, b = await make_tenant("rls-tok-a"), await make_tenant("rls-tok-b")
    for tenant in (a, b, b):
        async with db.session(tenant.id) as session:
            name = f"tag {uuid.uuid4().hex[:6]}"
            session.add(Tag(tenant_id=tenant.id, name=name, name_key=name, color="#000000"))
    for kind in ("read", "write"):
        with pytest.raises(DBAPIError, match="read-only transaction") if kind == "read" else contextlib.nullcontext():
            opened = db.read_session(cross_tenant="a request before its credentials are checked") if kind == "read" \
                else db.session(cross_tenant="a request before its credentials are checked")
            async with opened as session:
                found = await get_api_token_with_tenant(session, hash_token(a.token))
                assert found.tenant_id == a.id
                assert (await session.execute(select(func.count()).select_from(Tag))).scalar_one() == 1
                await session.execute(update(Contact).values(notes="x"))


async def test_a_read_session_cannot_write(make_tenant: Any, db: Database) -> None:
    a = await make_tenant("rls-ro")
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with db.read_session(a.id) as session:
            await session.execute(update(Contact).values(notes="x"))


async def test_the_inbox_search_keeps_its_index_behind_the_wall(client: httpx2.AsyncClient, make_tenant: Any,
                                                                db: Database) -> None:
    """A rare fragment or word is found through inbox_search_matches (and a word's days through
    inbox_search_word_days), for the transaction's tenant only."""
    a, b = await _two_tenants(client, make_tenant)
    assert (await post_inbound(client, b, "el paquete llegó roto", external_id="Beto", name="Beto")).status_code == 202
    for t, q, expected in ((a, "alb", ["Alba"]), (b, "alb", []), (b, "bet", ["Beto"]), (a, "paquete", []),
                           (b, "paquete", ["Beto"])):
        rows = (await client.get("/admin/chats/summary", params={"q": q}, headers=t.headers)).json()
        assert [r["display_name"] for r in rows] == expected
    count = "SELECT count(*) FROM inbox_search_matches(:name, NULL, to_tsquery('simple', :words))"
    async with db.read_session(a.id) as session:  # it takes no tenant: it answers for the transaction's
        found = (await session.execute(text(count), {"name": "%beto%", "words": None})).scalar_one()
        said = (await session.execute(text(count), {"name": None, "words": "paquete:*"})).scalar_one()
        own = (await session.execute(text(count), {"name": "%alba%", "words": None})).scalar_one()
        days = "SELECT count(*) FROM inbox_search_word_days(to_tsquery('simple', :words), 10)"
        words_a = (await session.execute(text(days), {"words": "paquete:*"})).scalar_one()
    async with db.read_session(b.id) as session:
        words_b = (await session.execute(text(days), {"words": "paquete:*"})).scalar_one()
    assert (found, said, own, words_a, words_b) == (0, 0, 1, 0, 1)


async def test_the_inbound_channel_lookup_leaves_the_transaction_to_the_channels_tenant(
        client: httpx2.AsyncClient, make_tenant: Any, db: Database) -> None:
    """The inbound path's lookup crosses tenants and, in the same round trip, states the tenant of
    the channels it found: what follows sees that tenant's rows only; channels of two tenants
    leave the next set_tenant to state its tenant again."""
    a, b = await _two_tenants(client, make_tenant)
    async with db.session(cross_tenant="the inbound path's channel lookup") as session:
        found = await channels_by_id(session, [a.channel_id])
        assert set(found) == {a.channel_id}
        assert set((await session.execute(select(Contact.display_name))).scalars()) == {"Ana", "Alba"}
        await set_tenant(session, b.id)
        assert set((await session.execute(select(Contact.display_name))).scalars()) == {"Beto"}
    async with db.session(cross_tenant="the inbound path's channel lookup") as session:
        assert set(await channels_by_id(session, [a.channel_id, b.channel_id])) == {a.channel_id, b.channel_id}
        await set_tenant(session, a.id)
        assert set((await session.execute(select(Contact.display_name))).scalars()) == {"Ana", "Alba"}
    async with db.session(cross_tenant="the inbound path's channel lookup") as session:
        assert await channels_by_id(session, [uuid.uuid4()]) == {}  # found nothing: still across tenants
        names = set((await session.execute(select(Contact.display_name))).scalars())
    assert {"Ana", "Alba", "Beto"} <= names
