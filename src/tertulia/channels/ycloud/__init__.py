"""YCloud's WhatsApp API (v2)."""
