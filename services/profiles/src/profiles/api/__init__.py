"""HTTP routes of the profiles service. Queries read projections only."""
