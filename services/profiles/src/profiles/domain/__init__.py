"""Pure learner-profile logic: state, decisions and evolution. No I/O imports here."""
