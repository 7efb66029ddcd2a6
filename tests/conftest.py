"""Test setup shared by engine and UI tests."""

import os

# Qt tests run without a screen; set before any Qt module creates the application.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
