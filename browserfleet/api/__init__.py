"""HTTP façades: one module per API family; they validate, authenticate, call core, shape replies."""
