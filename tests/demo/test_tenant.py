"""The demo tenant: what `tertulia demo` loads is what a user of the panel sees.

The test database is shared by the whole run, so the `demo` tenant exists once: the first test to
need it loads it (the loader is idempotent, which is itself under test)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from tertulia.contacts.models import Contact, ContactTag, Tag
from tertulia.conversations.media import media_key
from tertulia.conversations.models import Conversation, Message
from tertulia.conversations.service import preview_of
from tertulia.demo import content
from tertulia.demo.tenant import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG, load_demo
from tertulia.kit.db import Database, tenant_select
from tertulia.kit.storage import FileStore
from tertulia.tenancy.models import Tenant

# Every turn is a message, and each of Nora's handoffs at loading (content.NORA) leaves its note for
# the team (tests/demo/test_demo_runs.py counts them).
TURNS = sum(len(s.turns) for s in content.SCRIPTS)
EXPECTED_CONTACTS = len({s.contact_key or f"contact-{i}" for i, s in enumerate(content.SCRIPTS)})


async def _ensure_demo(app: Any) -> uuid.UUID:
    db: Database = app.state.db
    async with db.session(cross_tenant="the demo makes its tenant") as session:
        await load_demo(session, app.state.settings, app.state.store)
    async with db.session(cross_tenant="the demo makes its tenant") as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.slug == DEMO_SLUG))).scalar_one()
    return tenant.id


async def _counts(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    async with db.read_session(tenant_id) as session:
        out = {}
        for name, model in (("contacts", Contact), ("conversations", Conversation), ("messages", Message),
                            ("tags", Tag), ("links", ContactTag)):
            out[name] = (await session.execute(tenant_select(model, tenant_id, func.count()))).scalar_one()
        return out


async def _login(client: httpx2.AsyncClient) -> None:
    r = await client.post("/api/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["tenant"]["slug"] == DEMO_SLUG


async def test_demo_loads_once_and_is_idempotent(app: Any, db: Database) -> None:
    tenant_id = await _ensure_demo(app)
    before = await _counts(db, tenant_id)
    assert before["contacts"] == EXPECTED_CONTACTS >= 38
    assert before["conversations"] == len(content.SCRIPTS) >= 40
    async with db.read_session(tenant_id) as session:
        notes = (await session.execute(tenant_select(Message, tenant_id, func.count())
                                       .where(Message.author == "system"))).scalar_one()
    assert before["messages"] == TURNS + notes and notes >= 1
    assert before["tags"] == len(content.TAGS)
    assert before["links"] >= 20

    # Loading again changes nothing, and a lost file is stored again.
    store: FileStore = app.state.store
    victim = media_key(tenant_id, content.MEDIA["menu"]["filename"])
    await store.delete(victim)
    async with db.session(cross_tenant="the demo makes its tenant") as session:
        assert await load_demo(session, app.state.settings, store) is False
    assert await _counts(db, tenant_id) == before
    assert (await anext(store.read(victim))).startswith(b"%PDF-1.4")


async def test_inbox_shows_the_demo_like_live_data(client: httpx2.AsyncClient, app: Any) -> None:
    await _ensure_demo(app)
    await _login(client)
    r = await client.get("/admin/chats/summary", params={"limit": 100})
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == len(content.SCRIPTS)
    stamps = [datetime.fromisoformat(row["timestamp"]) for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    now = datetime.now(UTC)
    assert now - stamps[0] < timedelta(minutes=30)  # a few from today...
    assert now - stamps[-1] > timedelta(days=14)  # ...and spread over the past weeks

    assert {row["channel_source"] for row in rows} == {"whatsapp", "instagram", "facebook", "web", "api"}
    origins = {row["channel_source"]: row["platform_origin"] for row in rows}
    assert origins["instagram"] == "@cafeaurora.mx" and origins["whatsapp"].startswith("+52")
    locked = [row for row in rows if row["is_locked"]]
    assert 3 <= len(locked) < len(rows)
    assert any(row["unread_count"] > 1 for row in rows) and any(row["unread_count"] == 0 for row in rows)
    assert {row["status"] for row in rows} == {"open", "resolved"}
    whatsapp = [row for row in rows if row["channel_source"] == "whatsapp"]
    assert all(row["customer_phone"].startswith("+") and row["customer_phone"][1:].isdigit() for row in whatsapp)
    tagged = [row for row in rows if row["tags"]]
    assert len(tagged) >= 15
    assert all(t["color"].startswith("#") for row in tagged for t in row["tags"])
    maria = next(row for row in rows if row["display_name"] == "María Fernanda López")
    assert [t["name"] for t in maria["tags"]] == ["Pastel por encargo", "Cliente frecuente"]  # newest first

    # The seed's filters work on the demo.
    human = (await client.get("/admin/chats/summary", params={"human_filter": "human_only", "limit": 100})).json()
    assert {row["id"] for row in human} == {row["id"] for row in locked}
    by_tag = (await client.get("/admin/chats/summary", params={"tag": "Reclamo", "limit": 100})).json()
    assert {row["display_name"] for row in by_tag} == {"Jorge Ramírez", "Eduardo Jiménez", "Claudia Herrera"}

    # Every conversation's counters agree with its messages.
    types: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    ai_replies: list[dict[str, Any]] = []
    for row in rows:
        messages = (await client.get(f"/admin/chats/{row['id']}/messages", params={"limit": 100})).json()
        assert messages, row
        last = messages[-1]
        assert row["timestamp"] == last["timestamp"]
        assert row["last_message"] == preview_of(last["content"], last["attachments"])
        inbound = [m for m in messages if m["sender"] == "user"]
        assert row["last_inbound_at"] == (inbound[-1]["timestamp"] if inbound else None)
        assert row["unread_count"] <= len(inbound)
        assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
        assert [m["timestamp"] for m in messages] == sorted(m["timestamp"] for m in messages)
        for m in messages:
            authors[m["author"]] += 1
            if m["author"] == "ai":
                assert uuid.UUID(m["correlation_id"]) and m["sender"] == "agent"
                ai_replies.append(m)
            if m["author"] == "human":
                assert m["author_name"] in (content.OWNER_NAME, content.AGENT_NAME)
            for a in m["attachments"]:
                types[a["type"]] += 1
        if any(m["author"] == "human" for m in messages) and row["display_name"] != "Patricia Gómez":
            assert row["is_locked"], row["display_name"]
    assert set(types) == {"image", "video", "audio", "document"}
    assert authors["contact"] > authors["human"] > 5 and authors["ai"] > 50
    # Nora's replies are explainable like live ones: each has its trace, her run's.
    searched = found = 0
    for reply in ai_replies[::5]:
        trace = await client.get(f"/admin/logs/ai/{reply['correlation_id']}")
        assert trace.status_code == 200, trace.text
        steps = trace.json()["steps"]
        if trace.json()["outcome"] == "handoff":
            assert steps[-1]["name"] == "handoff_to_human"
            continue
        assert trace.json()["output"] == reply["content"] == steps[-1]["text"]
        if len(steps) == 3:
            assert steps[1]["name"] == "search_knowledge" and steps[1]["result"]["results"] is not None
            searched += 1
            found += bool(trace.json()["sources"])
    assert searched >= 6 and found >= 6, (searched, found)
    failed = [m for row in locked for m in (await client.get(f"/admin/chats/{row['id']}/messages")).json()
              if m["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]


async def test_nora_answers_every_channel(client: httpx2.AsyncClient, app: Any) -> None:
    await _ensure_demo(app)
    await _login(client)
    assistants = (await client.get("/admin/assistants")).json()
    nora = next(a for a in assistants if a["name"] == content.ASSISTANT_NAME)
    assert nora["language"] == "es" and nora["knowledge_count"] >= 5
    channels = (await client.get("/admin/channels")).json()
    assert {c["channel_source"] for c in channels} == {"whatsapp", "instagram", "facebook", "web", "api"}
    assert all(c["assistant_id"] == nora["id"] for c in channels)


async def test_some_contacts_are_online_now(client: httpx2.AsyncClient, app: Any) -> None:
    await _ensure_demo(app)
    await _login(client)
    contacts = (await client.get("/admin/contacts", params={"limit": 100})).json()
    now = datetime.now(UTC)
    online = [c for c in contacts if c["last_seen_at"] and now - datetime.fromisoformat(c["last_seen_at"]) < timedelta(minutes=5)]
    assert 2 <= len(online) <= 8
    ricardo = next(c for c in contacts if c["display_name"] == "Ricardo Vargas")
    assert {i["channel_source"] for i in ricardo["identities"]} == {"whatsapp", "instagram"}


async def test_every_attachment_is_served_to_members_only(client: httpx2.AsyncClient, make_tenant: Any, app: Any,
                                                          app_store: FileStore) -> None:
    """On the local directory and on a bucket: loading the demo (again) stores the files the store
    lacks, and the panel gets each of them."""
    await _ensure_demo(app)
    await _login(client)
    rows = (await client.get("/admin/chats/summary", params={"limit": 100})).json()
    attachments: dict[str, dict[str, Any]] = {}
    for row in rows:
        for m in (await client.get(f"/admin/chats/{row['id']}/messages", params={"limit": 100})).json():
            for a in m["attachments"]:
                attachments[a["url"]] = a
    assert len(attachments) == len(content.MEDIA)
    expected_types = {"image": "image/png", "audio": "audio/ogg", "video": "video/webm",
                      "document": "application/pdf"}
    other = await make_tenant("nodemo")
    magic = {"image": b"\x89PNG", "audio": b"OggS", "video": b"\x1a\x45\xdf\xa3", "document": b"%PDF"}
    for url, a in attachments.items():
        r = await client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"] == expected_types[a["type"]] == a["mime_type"]
        assert len(r.content) == a["size"] and r.content.startswith(magic[a["type"]])
        if a["type"] == "document":
            assert a["filename"] in r.headers["content-disposition"]
        if a["type"] in ("audio", "video"):
            part = await client.get(url, headers={"Range": "bytes=0-99"})
            assert part.status_code == 206 and len(part.content) == 100
        # Another tenant's caller learns nothing, not even that the file exists.
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as outsider:
            assert (await outsider.get(url, headers=other.headers)).status_code == 404


def test_cli_demo_twice_prints_the_login(tmp_path: Path) -> None:
    """The two-command setup path on a fresh SQLite data directory: migrate, then demo twice."""
    env = {"TERTULIA_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    exe = Path(sys.executable).parent / "tertulia"
    if not exe.exists():
        pytest.skip("the tertulia script is not installed next to the interpreter")
    for args in (["migrate"], ["demo"], ["demo"]):
        done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr
    assert "demo tenant already present" in done.stdout
    assert f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}" in done.stdout
    media = list((tmp_path / "files" / "media").glob("*/*"))
    assert len(media) == len(content.MEDIA)


PLAYER_PAGE = """<!doctype html><html><body><pre id=out>pending</pre><video id=v src="clip.webm" muted preload="auto"></video>
<script>
const v = document.getElementById('v'), out = document.getElementById('out');
const canvas = document.createElement('canvas'); canvas.width = 256; canvas.height = 144;
const ctx = canvas.getContext('2d');
const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)).join(',');
v.onerror = () => { out.textContent = 'error ' + (v.error && v.error.message); };
let first = '';
// Headless Chromium runs on virtual time and renders nothing on its own: a timer that keeps drawing
// the current frame keeps the player pulling frames until the end. The coffee, the logo and the
// counter do not move, so any decoded frame shows them.
const done = () => { clearInterval(tick); out.textContent = 'ok ' + v.videoWidth + 'x' + v.videoHeight + ' '
  + v.duration + ' ' + v.getVideoPlaybackQuality().totalVideoFrames + ' ' + first; };
const tick = setInterval(() => { if (v.readyState < 2) return; ctx.drawImage(v, 0, 0);
  out.textContent = 'playing ' + v.currentTime;
  if (!first) first = [px(120, 72), px(130, 100), px(8, 136)].join(' ');
  if (v.ended || v.currentTime >= v.duration) done(); }, 100);
v.onended = done;
v.oncanplay = () => v.play();
</script></body></html>"""


def test_demo_video_plays_in_chromium(tmp_path: Path, chromium: Path) -> None:
    """The demo's WebM decodes in a real browser to the colours it was drawn with, and plays."""
    import functools
    import http.server
    import threading

    (tmp_path / "clip.webm").write_bytes((files("tertulia.demo") / "media" / "barra-de-cafe.webm").read_bytes())
    (tmp_path / "index.html").write_text(PLAYER_PAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(
            [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=30000", "--dump-dom",
             f"http://127.0.0.1:{server.server_address[1]}/index.html"],
            capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    report = done.stdout.split('<pre id="out">', 1)[-1].split("</pre>", 1)[0]
    assert report.startswith("ok "), report
    status, size, duration, frames, *colours = report.split()
    # It played to the end; how many of its 32 frames got painted depends on how busy the machine is.
    assert (status, size, float(duration)) == ("ok", "256x144", 4.0) and int(frames) >= 4, report

    def close(got: str, want: tuple[int, int, int]) -> bool:
        return all(abs(int(g) - w) <= 3 for g, w in zip(got.split(","), want, strict=True))

    # The coffee at the brim, the orange logo on the mug and the wooden counter.
    assert close(colours[0], (92, 54, 32)) and close(colours[1], (232, 118, 40)) and close(colours[2], (120, 78, 50)), \
        colours
