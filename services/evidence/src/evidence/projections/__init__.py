"""Read models of the evidence service, fed from the EVIDENCE stream."""
