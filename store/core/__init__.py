"""What every domain shares: the database handle, the clock, money, schema steps, prepared SQL, WeChat errors."""
