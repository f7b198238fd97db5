"""WeChat's edge: the callback (signature, crypto, dedup, routing) and the outbound API clients."""
