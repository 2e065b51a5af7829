"""Auto-replies through the real Anthropic provider, against the local server speaking the
Messages API wire format."""

from __future__ import annotations

from typing import Any

from tests.assistants.conftest import ai_messages, make_assistant, trace_of, wait_until
from tests.fakes import FakeAnthropicServer
from tests.helpers import post_inbound


async def test_reply_with_a_tool_round_through_the_messages_api(
        client: Any, make_tenant: Any, fake_anthropic: FakeAnthropicServer) -> None:
    t = await make_tenant("e2e-anthropic")
    fake_anthropic.api_key = "sk-ant-tienda"
    await make_assistant(client, t, provider="anthropic", model="claude-sonnet-5-5", base_url=fake_anthropic.base_url,
                         api_key="sk-ant-tienda", instructions="Eres Nora, de Café Aurora.")
    fake_anthropic.tool_use("add_tag", {"name": "Mayorista"}, thinking="Compra al por mayor: lo etiqueto.")
    fake_anthropic.reply(["Perfecto, ", "te paso la tarifa mayorista."], input_tokens=300, output_tokens=20)

    conv = (await post_inbound(client, t, "Quiero comprar 20 kilos de café")).json()["conversation_id"]
    [reply] = await wait_until(lambda: ai_messages(client, t, conv), what="the AI's reply")
    assert reply["content"] == "Perfecto, te paso la tarifa mayorista."
    listing = (await client.get("/admin/chats/summary", headers=t.headers)).json()
    assert [tag["name"] for tag in next(c for c in listing if c["id"] == conv)["tags"]] == ["Mayorista"]

    trace = await trace_of(client, t, reply["correlation_id"])
    assert (trace["provider"], trace["outcome"]) == ("anthropic", "sent")
    assert trace["reasoning"] == ["Compra al por mayor: lo etiqueto."]
    assert [s["name"] for s in trace["tools_used"]] == ["add_tag"]

    first, second = fake_anthropic.requests
    assert "Eres Nora" in first.json["system"]
    assert first.json["messages"][-1]["content"][-1]["text"] == "Quiero comprar 20 kilos de café"
    use = second.json["messages"][-2]["content"][-1]
    assert use["type"] == "tool_use" and use["input"] == {"name": "Mayorista"}
    [result] = second.json["messages"][-1]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"] and "Mayorista" in result["content"]
