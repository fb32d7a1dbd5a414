"""HTTP routes of the pathways service. Queries read projections only."""
