"""Back ends of symjac: lowering the IR tape to LLVM IR, and JIT compilation.

Installed as ``symjac.codegen``. Nothing here imports SymPy: the input is
:class:`symjac.ir.tape.KernelSpec`, built from ints, floats and ops only.
"""

from symjac.codegen.llvm.jit import JitModule, host_description
from symjac.codegen.llvm.lower import Lowered, lower

__all__ = ["JitModule", "Lowered", "host_description", "lower"]
