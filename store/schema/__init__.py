"""The database schema over every domain: ordered, idempotent steps and the version check at start-up."""
