"""The profiles service: learners, rosters and living profiles."""
