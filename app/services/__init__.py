"""Use cases. Each public service is one transaction: it commits once, or not at all."""
