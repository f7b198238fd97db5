"""What every process holds: config, logging, metrics, the database and Redis clients, embedded Redis."""
