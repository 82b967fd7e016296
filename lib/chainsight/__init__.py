"""Chainsight: customer profiles turned into supply-chain decisions."""

__version__ = "0.1.0"
