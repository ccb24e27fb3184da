"""SymPy in and out: converting expressions to the IR graph, and tapes back to SymPy."""
