"""Imports every domain's models so that metadata (Alembic, tests) sees the whole schema."""

from tertulia.assistants.models import (
    AiJob,
    AiTrace,
    Assistant,
    ConversationSummary,
    KnowledgeChunk,
    KnowledgeEntry,
    McpServer,
)
from tertulia.canned.models import CannedResponse
from tertulia.channels.models import Channel, MessageTemplate, WebhookEvent
from tertulia.contacts.models import Contact, ContactIdentity, ContactTag, Tag
from tertulia.conversations.models import Conversation, ConversationWords, MediaFetch, Message, PendingStatus
from tertulia.delivery.models import OutboundDelivery
from tertulia.kit.db import Base
from tertulia.realtime.models import TenantEvent
from tertulia.tenancy.models import ApiToken, AuthSession, Membership, Tenant, TenantSequence, User
from tertulia.webchat.models import ChatMessage, ChatSession

__all__ = [
    "AiJob",
    "AiTrace",
    "ApiToken",
    "Assistant",
    "AuthSession",
    "Base",
    "CannedResponse",
    "Channel",
    "ChatMessage",
    "ChatSession",
    "Contact",
    "ContactIdentity",
    "ContactTag",
    "Conversation",
    "ConversationSummary",
    "ConversationWords",
    "KnowledgeChunk",
    "KnowledgeEntry",
    "McpServer",
    "MediaFetch",
    "Membership",
    "Message",
    "MessageTemplate",
    "OutboundDelivery",
    "PendingStatus",
    "Tag",
    "Tenant",
    "TenantEvent",
    "TenantSequence",
    "User",
    "WebhookEvent",
]
