"""Orders: checkout, pricing, payments, refunds, addresses and order views."""
