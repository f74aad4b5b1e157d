"""driftcheck: does the cluster run what Git says, and since when has it not?"""

__version__ = "0.1.0"
