"""The journey simulator (``signalyard simulate``): seeded shoppers sent through a real
gateway, with the answer each order must get. See docs/attribution.md, *The simulator*."""
