"""Report figures and their exports (CSV / XLSX)."""
