"""Node-side components: what runs next to the browsers on a worker node."""
