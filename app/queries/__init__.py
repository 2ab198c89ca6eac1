"""Read-only query functions for console lists, detail pages and reports."""
