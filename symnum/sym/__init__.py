"""The symbolic layer under :mod:`symnum.array`: SymPy expression constructors
(:mod:`~symnum.sym.build`), dtype inference (:mod:`~symnum.sym.dtypes`) and
differentiation (:mod:`~symnum.sym.differentiate`)."""
