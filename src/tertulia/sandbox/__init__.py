"""The provider sandbox: local HTTP servers that speak Meta's Graph API (WhatsApp Cloud, Messenger,
Instagram) and YCloud's API v2, send their signed webhooks, and serve a "customer phone" page.

Used by the tests and by `tertulia sandbox`; nothing in production imports it. The wire formats it
follows, and what it decided where the providers' documentation is silent, are in docs/channels.md.
"""
