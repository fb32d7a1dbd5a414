"""The notifications service: timely feedback to learners, guardians and teachers."""
