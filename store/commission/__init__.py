"""分销: promoters, the commissions their referred buyers earn them, and the settlement report."""
