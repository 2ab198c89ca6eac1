"""The audit log's read side: the viewer's list and its export (app.queries.audit.log)."""
