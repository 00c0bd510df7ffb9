// A service worker that does nothing: registering it leaves a registration behind.
self.addEventListener("fetch", () => {});
