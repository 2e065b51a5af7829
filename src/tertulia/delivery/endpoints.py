"""A person sends a failed message again."""

from __future__ import annotations

from fastapi import APIRouter

from tertulia.conversations import service as conversations
from tertulia.conversations.schemas import MessageOut
from tertulia.delivery import service
from tertulia.kit.json_body import JsonBodyRoute
from tertulia.kit.types import MessageId
from tertulia.kit.web import DbSession
from tertulia.tenancy.auth import CurrentPrincipal

router = APIRouter(prefix="/admin", tags=["inbox"], route_class=JsonBodyRoute)


@router.post("/messages/{message_id}/retry", response_model=MessageOut, status_code=202)
async def retry_message(message_id: MessageId, principal: CurrentPrincipal, db: DbSession) -> MessageOut:
    """Queue a `failed` outbound message again: the same message, with fresh tries, behind what its
    recipient has queued; it comes back `queued`. 409 `message_not_failed` for any other message;
    a free-form WhatsApp message whose window closed meanwhile is refused with `window_closed`."""
    message = await service.retry_message(db, principal.tenant_id, message_id)
    return conversations.message_out(message, await conversations.author_names(db, [message]))
