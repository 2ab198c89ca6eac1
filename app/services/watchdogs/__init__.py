"""Watchdogs (issue 11 §6): conditions HR must hear about once, and the daily digest.

`checks` finds each condition from the data (pure reads), `alerts` opens one alert per
condition (an OA message to the responsible HR users and a console banner), refreshes
those still true and clears those gone, `digest` builds the daily digest per HR owner.
"""
