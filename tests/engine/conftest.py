"""Engine test setup: one torch thread.

The test machine has two shared cores; with torch's default of two intra-op threads a step of a
small MLP is ~10x slower whenever anything else runs (threads spin waiting for each other).
One thread also makes float reductions independent of the machine's core count.
"""

import torch

torch.set_num_threads(1)
