"""The intermediate representation: the op table, the hash-consed expression graph, the
flat tape that back ends read, and the reference semantics of every op.

Nothing here imports SymPy or any other layer of symjac.
"""
