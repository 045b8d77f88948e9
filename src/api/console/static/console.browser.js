/* global document */
// Live figures without a build step: every few seconds each [data-refresh] section is fetched
// again as server-rendered HTML (same credentials, same origin) and swapped in when it changed.
// Paused while the tab is hidden and while the operator is inside a section (a focused button
// or form), so nothing moves under the pointer. A failed refresh is shown, never hidden.
(() => {
  const every = Number(document.body.dataset.refreshMs) || 2000;
  const status = document.getElementById('refresh-status');
  const last = new WeakMap();

  async function refresh(section) {
    if (section.contains(document.activeElement) && document.activeElement !== document.body) return;
    const res = await fetch(section.dataset.refresh, { headers: { accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const html = await res.text();
    if (last.get(section) !== html) {
      section.innerHTML = html;
      last.set(section, html);
    }
  }

  async function tick() {
    if (!document.hidden) {
      try {
        await Promise.all([...document.querySelectorAll('[data-refresh]')].map(refresh));
        if (status) status.textContent = `live · figures as of ${new Date().toISOString().slice(11, 19)} UTC`;
      } catch (err) {
        if (status) status.textContent = `refresh failed (${err.message}); retrying`;
      }
    }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
})();
