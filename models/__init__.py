"""Architectures of the experiment suite (thesis §5.2); one module per architecture."""
