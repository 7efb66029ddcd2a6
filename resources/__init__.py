"""Data shipped with initviz: the digits dataset, scenarios, icons."""
