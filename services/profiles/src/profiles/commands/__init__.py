"""Commands of the profiles service: decided against its own state, appended to PROFILES."""
