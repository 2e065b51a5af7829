"""Local stand-ins for outside services, speaking their wire formats on 127.0.0.1.

Fixtures (registered in tests/conftest.py): `fake_openai` (FakeOpenAIServer), `fake_anthropic`
(FakeAnthropicServer) and `fake_dns` (the names the egress fence resolves). Each test gets a clean script queue and request log on a server shared by
the session; gates are released when the test ends.
"""

from tests.fakes.anthropic_server import AnthropicReply, FakeAnthropicServer, ToolUseScript
from tests.fakes.harness import Gate, RecordedRequest
from tests.fakes.openai_server import FakeOpenAIServer, OpenAIReply, ToolCallScript

__all__ = [
    "AnthropicReply", "FakeAnthropicServer", "FakeOpenAIServer", "Gate", "OpenAIReply", "RecordedRequest",
    "ToolCallScript", "ToolUseScript",
]
