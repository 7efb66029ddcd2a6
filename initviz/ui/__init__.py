"""The Qt desktop app. Everything Qt lives below here; the engine never imports it."""
