"""Classification and multi-label decisions: the one decision rule, the threshold tuner
that fits it, and the named threshold grids."""
