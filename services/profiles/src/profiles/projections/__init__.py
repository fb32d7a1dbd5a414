"""Read models of the profiles service, fed from the PROFILES stream."""
