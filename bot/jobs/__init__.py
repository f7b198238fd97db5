"""Queued and timed work: the arq worker assembled, enqueueing from the web app, the outbox dispatcher."""
