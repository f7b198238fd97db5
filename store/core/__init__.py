"""What every domain shares: the database handle, the clock, money, prepared SQL, WeChat errors."""
