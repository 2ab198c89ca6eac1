"""Interviews: confirming, rescheduling, who is told of each event."""
