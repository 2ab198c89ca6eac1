"""Notifications: outbox, claim and routing, transmit, dispatch, receipts, reads, alerts."""
