"""YCloud: webhooks."""
