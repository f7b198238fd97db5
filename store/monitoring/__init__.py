"""The shop's figures, funnel events, alerts and worker heartbeats."""
