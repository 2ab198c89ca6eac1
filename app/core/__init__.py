"""Plumbing every feature uses: errors, SQL writer, pool, Redis store, time, crypto, sessions."""
