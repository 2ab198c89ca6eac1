"""Read side of candidates: feedback."""
