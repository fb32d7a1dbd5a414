"""OneRoster 1.1 CSV bundles, read and validated at the edge."""
