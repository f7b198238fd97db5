"""The outbox: notices, their kinds and templates, the template linter, customer-service windows."""
