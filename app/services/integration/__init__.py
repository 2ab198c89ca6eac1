"""Getting data in from other systems: upserts by external id, file imports."""
