"""Candidates: WeChat binding, mini-program sessions, feedback, subscriptions."""
