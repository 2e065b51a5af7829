"""The demo tenant, Café Aurora (`tertulia demo`): `tenant` loads it, `content` is its script,
`assistant` is Nora, and `media/` holds the attachment files its conversations carry."""
