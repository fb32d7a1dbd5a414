"""Partner submissions (native JSON, xAPI, Caliper), parsed and validated at the edge into
observations the evidence service can record. Pure: no I/O."""
