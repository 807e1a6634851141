"""Database models of this feature (being built)."""
