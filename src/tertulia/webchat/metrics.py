"""What an operator watches of the panel chatbot.

`GET /api/chat/metrics` answers from the database for the caller's tenant (every process's work,
over a window); Prometheus (`/metrics`) gets the same measures as this process's counters, across
tenants: messages by role, tool runs by tool and outcome, errors by code, answer latency.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from tertulia.kit.db import Reader, utcnow
from tertulia.webchat import repository as repo

MESSAGES = Counter("tertulia_chat_messages", "Panel chatbot messages stored, by role", ["role"])
TOOL_CALLS = Counter("tertulia_chat_tool_calls", "Panel chatbot tool runs, by tool and outcome (ok or error code)",
                     ["tool", "outcome"])
ERRORS = Counter("tertulia_chat_errors", "Panel chatbot error frames sent, by code", ["code"])
LATENCY = Histogram("tertulia_chat_answer_seconds", "Time from a panel chatbot message to its answer, by tool "
                    "('' for the model's or a command's own answer)", ["tool"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60))
SOCKETS = Gauge("tertulia_chat_sockets", "Panel chatbot sockets open in this process")
LATENCY_SAMPLE = 1000  # answers the JSON's percentiles are computed over


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)], 1)


async def tenant_metrics(session: Reader, tenant_id: uuid.UUID, days: int) -> dict[str, Any]:
    since = utcnow() - timedelta(days=days)
    tools: dict[str, dict[str, int]] = defaultdict(dict)
    for tool, code, count in await repo.tool_outcomes(session, tenant_id, since):
        tools[tool][code or "ok"] = count
    latencies = await repo.recent_latencies(session, tenant_id, since, LATENCY_SAMPLE)
    by_tool: dict[str, list[float]] = defaultdict(list)
    for tool, ms in latencies:
        by_tool[tool or ""].append(ms)
    every = [ms for _, ms in latencies]
    return {
        "window_days": days,
        "messages": await repo.message_counts(session, tenant_id, since),
        "tool_calls": dict(tools),
        "errors": await repo.error_counts(session, tenant_id, since),
        "latency_ms": {
            "sample": len(every), "p50": percentile(every, 0.5), "p95": percentile(every, 0.95),
            "p99": percentile(every, 0.99),
            "by_tool": {tool or "(answer)": {"sample": len(v), "p50": percentile(v, 0.5), "p95": percentile(v, 0.95)}
                        for tool, v in by_tool.items()},
        },
    }
