"""HR user administration."""
