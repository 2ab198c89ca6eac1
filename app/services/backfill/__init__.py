"""Backfill (issue 11 §5) and the candidate's slot offers.

- waitlist: HR's ordered waiting list per position (console; Actor permission and
  department scope, audited);
- places: the job that holds free places of a position's sessions for its waiting list,
  offers each to the next waiting candidates, expires offers and releases places nobody
  takes;
- offers: the candidate's side (mini program): list, accept (atomic: first wins, never
  over capacity, nobody double-booked), decline. Promise offers
  (app.services.interviews.promises) are accepted here too.
"""
