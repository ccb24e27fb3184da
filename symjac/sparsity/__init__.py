"""Sparsity patterns and graph colouring: which entries are structurally nonzero, and
how few directional derivatives recover them."""
