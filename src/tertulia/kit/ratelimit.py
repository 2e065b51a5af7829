"""Rate limits (the `limits` library): in memory on one process, in Redis when processes share one."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from tertulia.kit.errors import TooManyRequests


class RateLimiter:
    def __init__(self, redis_url: str | None, key_prefix: str = "tertulia") -> None:
        if redis_url:
            # redis-py (already a dependency) rather than the library's default client, coredis;
            # the prefix keeps installations sharing one Redis apart.
            storage = storage_from_string(f"async+{redis_url}", implementation="redispy",
                                          key_prefix=f"{key_prefix}:limits")
        else:
            storage = storage_from_string("async+memory://")
        self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, limit: str | RateLimitItem, *key: str, message: str = "too many attempts") -> None:
        item = parse(limit) if isinstance(limit, str) else limit
        if not await self._limiter.hit(item, *key):
            raise TooManyRequests(f"{message}; try again in a minute", headers={"Retry-After": "60"})

    async def wait_for(self, limit: str | RateLimitItem, *key: str) -> float:
        """Take one hit if the limit allows it now (0.0); otherwise count nothing and answer the
        seconds until it may allow one (a paced sender waits that long and asks again)."""
        item = parse(limit) if isinstance(limit, str) else limit
        if await self._limiter.hit(item, *key):
            return 0.0
        stats = await self._limiter.get_window_stats(item, *key)
        return max(0.001, stats.reset_time - time.time())

    async def clear(self, limit: str | RateLimitItem, *key: str) -> None:
        """Forget the hits counted under this key (a window that an event closes early)."""
        await self._limiter.clear(parse(limit) if isinstance(limit, str) else limit, *key)
