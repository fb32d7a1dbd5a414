"""Pure evidence and mastery logic. No I/O imports here."""
