"""The generic `api` channel: an integrator posts inbound messages with the channel's token and
receives outbound ones as signed POSTs (delivery/senders.py)."""
