"""Members: spend, points, tiers, birthdays, followers, referral codes and privacy on unfollow."""
