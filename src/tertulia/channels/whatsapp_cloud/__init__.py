"""WhatsApp Cloud API (Meta): its webhooks, its media downloads and its send API."""
