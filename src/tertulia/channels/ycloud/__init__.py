"""YCloud's WhatsApp API (v2): its webhooks, its media downloads and its send API."""
