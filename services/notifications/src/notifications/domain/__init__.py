"""Pure notification logic. No I/O imports here."""
