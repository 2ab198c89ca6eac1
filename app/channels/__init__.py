"""Fallback notification channels: SMS (app.channels.sms) and e-mail (app.channels.email).

Each channel is self-contained: it takes the app config (any mapping with `.get`) and a
rendered text, talks to its provider, and answers a result saying whether the send
worked and, if not, whether trying again later can help (`retryable`). The outbox
dispatcher decides what to do with that answer.
"""
