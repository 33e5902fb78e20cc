// Stores the token the floor's worker answers from, then says it is ready.
await chrome.storage.session.set({ token: 'floor-token' });
document.body.dataset.ready = 'true';
