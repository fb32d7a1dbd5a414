"""HTTP routes of the evidence service. Queries read projections only."""
