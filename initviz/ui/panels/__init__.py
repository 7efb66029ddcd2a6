"""pyqtgraph panels: each draws StepRecords, computes nothing the engine could."""
