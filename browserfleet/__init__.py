"""browserfleet: a self-hosted browser automation platform."""
