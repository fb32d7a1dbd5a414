"""HTTP routes of the notifications service. Queries read projections only."""
