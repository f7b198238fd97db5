"""Shipments, parcel traces and parcels in trouble."""
