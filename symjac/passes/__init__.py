"""Passes over the IR: rewrite rules, composite expansions, differentiation, and the
tape analyses (templates, schedule) that back ends share.

Imports only :mod:`symjac.ir`.
"""
