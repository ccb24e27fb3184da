"""The LLVM back end: lowering tapes to LLVM IR with llvmlite, JIT compilation, native
methods for one-point calls, and object files / shared libraries."""
