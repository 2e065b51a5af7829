"""Rate limits (the `limits` library): in memory on one process, in Redis when processes share one."""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from tertulia.kit.errors import TooManyRequests


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        self._limiter = MovingWindowRateLimiter(storage_from_string(uri))

    async def check(self, limit: str | RateLimitItem, *key: str, message: str = "too many attempts") -> None:
        item = parse(limit) if isinstance(limit, str) else limit
        if not await self._limiter.hit(item, *key):
            raise TooManyRequests(f"{message}; try again in a minute", headers={"Retry-After": "60"})
