"""WhatsApp Cloud API (Meta): webhooks."""
