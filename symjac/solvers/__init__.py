"""Glue to the solvers people use: ODE objects for SciPy's integrators, nonlinear programs
for IPOPT and SciPy's trust-constr."""
