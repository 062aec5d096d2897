"""The symbolic layer under :mod:`symnum.array`: SymPy expression constructors
(:mod:`~symnum.sym.build`), dtype inference (:mod:`~symnum.sym.dtypes`),
differentiation (:mod:`~symnum.sym.differentiate`) and the SymPy functions SymPy lacks
(:mod:`~symnum.sym.nodes`)."""
