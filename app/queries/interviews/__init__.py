"""Read side of interviews: console lists and detail, the candidate's own."""
