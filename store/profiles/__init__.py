"""Member profiles (RFM, lifecycle, known attributes), behaviour events, segments and campaigns."""
