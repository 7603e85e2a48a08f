// Swaps in fresh panels every few seconds; the page itself never reloads.
(function () {
  const panels = document.getElementById("panels");
  const updated = document.getElementById("updated");
  const every = Number(panels.dataset.every) * 1000;

  async function refresh() {
    try {
      const response = await fetch(panels.dataset.url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status);
      panels.innerHTML = await response.text();
      updated.textContent = "as of " + new Date().toISOString().slice(11, 19) + " UTC";
      updated.classList.remove("stale");
    } catch (error) {
      updated.textContent = "not refreshed (" + error.message + "); trying again";
      updated.classList.add("stale");
    }
  }

  setInterval(refresh, every);
})();
