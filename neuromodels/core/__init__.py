"""Core shared by every family: attention, runtime (device, seeding, logging), atomic I/O, checkpoints,
the training loop and errors. Imports nothing else of the package."""
