"""Pacing, measured on the sandbox's log of what it received: a recipient's messages arrive in order
and spaced; different recipients are served in parallel, up to the channel's rate."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx2

from tertulia.sandbox.server import SandboxServer
from tests.delivery.harness import (
    CHANNEL_RATE,
    SPACING,
    Receiver,
    customer_writes,
    eventually,
    make_shop,
    sent_log,
)


async def test_one_recipients_messages_arrive_in_order_and_spaced(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    conv = (await customer_writes(shop, control, "Hola"))["conversation_id"]
    texts = [f"mensaje {i}" for i in range(5)]
    for text in texts:  # queued at once, faster than they may leave
        r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers, json={"message": text})
        assert r.status_code == 202, r.text
    sent = await eventually(lambda: len(sent_log(sandbox, shop)) == 5 and sent_log(sandbox, shop), within=15,
                            what="five messages")
    assert [m["text"] for m in sent] == texts
    gaps = [b["monotonic"] - a["monotonic"] for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= SPACING, gaps
    assert max(gaps) < SPACING + 1.0, gaps  # and not much more: the next one starts when the spacing ends


async def test_different_recipients_go_in_parallel_each_in_order(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "ycloud", out_receiver)
    customers = [f"+3460010{i:04d}" for i in range(8)]
    convs = [(await customer_writes(shop, control, "Hola", customer=c))["conversation_id"] for c in customers]
    for round_ in range(2):
        for conv in convs:
            r = await api.post(f"/admin/chats/{conv}/messages", headers=shop.headers,
                               json={"message": f"ronda {round_}"})
            assert r.status_code == 202, r.text
    await eventually(lambda: len(sent_log(sandbox, shop)) == 16, within=15, what="sixteen messages")
    firsts = []
    for customer in customers:
        mine = sent_log(sandbox, shop, customer)
        assert [m["text"] for m in mine] == ["ronda 0", "ronda 1"]
        assert mine[1]["monotonic"] - mine[0]["monotonic"] >= SPACING
        firsts.append(mine[0]["monotonic"])
    # Nobody waited for another recipient's spacing: one after another, sixteen messages would
    # have taken fifteen spacings.
    everything = [m["monotonic"] for m in sent_log(sandbox, shop)]
    assert max(firsts) - min(firsts) < 3 * SPACING, firsts
    assert max(everything) - min(everything) < 6 * SPACING


async def test_a_channel_sends_no_faster_than_its_rate(
        api: httpx2.AsyncClient, control: httpx2.AsyncClient, sandbox: SandboxServer, out_app: Any,
        out_receiver: Receiver) -> None:
    shop = await make_shop(out_app, control, "whatsapp_cloud", out_receiver)
    count = int(CHANNEL_RATE * 2)
    convs = await asyncio.gather(*(customer_writes(shop, control, "Hola", customer=f"3460020{i:04d}")
                                   for i in range(count)))
    for conv in convs:
        r = await api.post(f"/admin/chats/{conv['conversation_id']}/messages", headers=shop.headers,
                           json={"message": "¡Gracias por escribir!"})
        assert r.status_code == 202, r.text
    sent = await eventually(lambda: len(sent_log(sandbox, shop)) == count and sent_log(sandbox, shop), within=20,
                            what=f"{count} messages")
    times = sorted(m["monotonic"] for m in sent)
    # The rate is counted when a send starts; the sandbox logs its arrival a moment later, so a
    # second of arrivals may hold a few more. Unpaced, all of them would arrive within a fraction of one.
    # Sends are counted when they start (a moving window of 15); an arrival is logged after the
    # typing call and the request, whose times vary, so arrivals from two neighbouring windows can
    # bunch (21 seen on a full-suite run). Unpaced, all 30 would arrive within one second.
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= CHANNEL_RATE * 1.5, busiest
    assert times[-1] - times[0] >= 0.8, times[-1] - times[0]
    assert len({m["recipient"] for m in sent}) == count  # each once
