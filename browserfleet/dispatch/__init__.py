"""Routing jobs to nodes: the dispatcher protocol and its implementations (in-process; Redis later)."""
