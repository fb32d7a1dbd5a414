"""ledgerctl: the operator, partner and auditor CLI of Learner Ledger, and the dev runner."""
