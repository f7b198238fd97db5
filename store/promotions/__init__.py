"""Coupons and the new-follower gift."""
