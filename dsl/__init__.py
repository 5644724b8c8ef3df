"""The rule language: a lark grammar, parser, type checker, compiler and runtime. It knows nothing of MIPS."""
