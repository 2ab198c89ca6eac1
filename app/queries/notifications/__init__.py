"""Read side of notifications: the 1-hour promise."""
