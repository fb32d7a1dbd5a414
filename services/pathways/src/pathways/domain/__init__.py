"""Pure pathway logic. No I/O imports here."""
