"""The web chat widget (channel kind `web`): its settings, visitors, HTTP and socket protocol."""
