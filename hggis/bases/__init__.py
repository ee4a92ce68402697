"""块状经济 bases (the plan's 30 十亿 bases): the bases, their member enterprises, their yearly
output summed from the members' figures, and the yearly recognition (≥ 10 亿) as a decision."""
