"""Batch analysis: one machine (local), the service's database (db), a Ray cluster (ray)."""
