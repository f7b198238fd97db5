"""After-sales tickets and their SLA clocks."""
