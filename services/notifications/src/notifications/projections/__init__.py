"""Read models of the notifications service, fed from the NOTIFICATIONS stream."""
