"""The runtime: argument checking, result layouts and the call path of compiled
objects, and the thread pool. Needs NumPy only.
"""
