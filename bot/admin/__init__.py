"""The operators' side over HTTP: the JSON API under /admin/api/ and the web console, one aiohttp sub-app."""
