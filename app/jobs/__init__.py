"""Background work: the worker loop and scheduled jobs."""
