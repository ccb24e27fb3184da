"""Glue to the solvers people use: ODE objects for SciPy's integrators."""
