"""The domain: jobs and their states, the action vocabulary, accounts, billing, geo."""
