"""Read models of the pathways service, fed from the PATHWAYS stream."""
