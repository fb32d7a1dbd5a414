"""The pathways service: competency frameworks, personal paths, pace and interventions."""
