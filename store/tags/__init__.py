"""WeChat user tags kept in step with segments and tiers, and the personalised menus shown per tag."""
