// Instant results: fetch the server-rendered results fragment as the user types.
// Without this script the page is a plain GET form with links, and works the same.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const DEBOUNCE_MS = 200;
  const SETTLE_MS = 1500; // as-you-type results read this long count as a search in the analytics

  function start() {
    const form = document.getElementById("search-form");
    const input = document.getElementById("q");
    const region = document.getElementById("results-region");
    const datalist = document.getElementById("suggestions");
    if (!form || !input || !region) return;
    let timer = null;
    let latest = 0;
    let controller = null;
    let settleTimer = null;
    let lastCounted = new URLSearchParams(window.location.search).toString(); // counted by the server

    // analytics: fire and forget; the server answers 204 even when they are off
    function report(event) {
      const body = new Blob([JSON.stringify(event)], { type: "application/json" });
      if (navigator.sendBeacon) navigator.sendBeacon("/api/events", body);
    }

    function formParams() {
      const params = new URLSearchParams(new FormData(form));
      for (const [key, value] of [...params]) if (!value) params.delete(key);
      return params;
    }

    async function update(params, how) {
      const seq = ++latest;
      if (controller) controller.abort();
      controller = new AbortController();
      clearTimeout(settleTimer);
      region.setAttribute("aria-busy", "true");
      // typing and back/forward are not searches of their own; a repeat of the last one is not either
      let intent = how === "push" ? "search" : how === "replace" ? "typing" : "history";
      if (intent === "search" && params.toString() === lastCounted) intent = "history";
      try {
        const response = await fetch("/results?" + params.toString(), {
          signal: controller.signal, headers: { "Accept": "text/html", "X-Search-Intent": intent },
        });
        const html = await response.text();
        if (seq !== latest) return; // a newer request has been sent: drop this stale answer
        region.innerHTML = html; // server-rendered, every user string escaped by Jinja
        const url = "/" + (params.toString() ? "?" + params.toString() : "");
        if (how === "push") history.pushState({ q: params.get("q") || "" }, "", url);
        else if (how === "replace") history.replaceState({ q: params.get("q") || "" }, "", url);
        document.title = (params.get("q") ? params.get("q") + " – " : "") + "News search";
        if (intent === "search") lastCounted = params.toString();
        if (intent === "typing") {
          settleTimer = setTimeout(function () {
            if (params.toString() === lastCounted) return;
            lastCounted = params.toString();
            report({ type: "search", params: params.toString() });
          }, SETTLE_MS);
        }
      } catch (err) {
        if (err.name !== "AbortError") region.removeAttribute("aria-busy");
        return;
      }
      if (seq === latest) region.removeAttribute("aria-busy");
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        const params = formParams();
        params.delete("page");
        update(params, "replace");
        suggest(input.value);
      }, DEBOUNCE_MS);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      const params = formParams();
      params.delete("page");
      update(params, "push");
    });

    region.addEventListener("change", function (event) {
      if (event.target.matches('input[type="checkbox"][name="filter"]')) {
        const params = formParams();
        params.delete("page");
        update(params, "push");
      }
    });

    region.addEventListener("click", function (event) {
      const opened = event.target.closest(".hit a:not([data-nav]):not(.similar)");
      if (opened) {
        const hit = opened.closest(".hit");
        report({
          type: "click", params: window.location.search.slice(1), url: opened.getAttribute("href"),
          rank: hit && hit.dataset.rank ? Number(hit.dataset.rank) : null,
        });
        return;
      }
      const link = event.target.closest("a[data-nav]");
      if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      // SVG links (the timeline's bars) have no .search: read the attribute
      const params = new URL(link.getAttribute("href"), window.location.href).searchParams;
      input.value = params.get("q") || "";
      syncHidden(params);
      update(params, "push").then(function () {
        const results = document.getElementById("results");
        if (results && link.closest(".pagination")) results.focus();
      });
    });

    // keep the form's hidden sort/limit in line with links the user followed
    function syncHidden(params) {
      for (const name of ["sort", "limit"]) {
        let field = form.querySelector('input[type="hidden"][name="' + name + '"]');
        const value = params.get(name);
        if (value && !field) {
          field = document.createElement("input");
          field.type = "hidden";
          field.name = name;
          form.querySelector(".topbar").appendChild(field);
        }
        if (field) {
          if (value) field.value = value;
          else field.remove();
        }
      }
    }

    window.addEventListener("popstate", function () {
      const params = new URLSearchParams(location.search);
      input.value = params.get("q") || "";
      syncHidden(params);
      update(params, null);
    });

    let suggestTimer = null;
    function suggest(text) {
      if (!datalist) return;
      clearTimeout(suggestTimer);
      if (text.trim().length < 2) { datalist.replaceChildren(); return; }
      suggestTimer = setTimeout(async function () {
        try {
          const response = await fetch("/api/suggest?q=" + encodeURIComponent(text));
          const data = await response.json();
          if (input.value !== text) return;
          datalist.replaceChildren(...data.suggestions.map(function (title) {
            const option = document.createElement("option");
            option.value = title; // textContent/value: never parsed as HTML
            return option;
          }));
        } catch (err) { /* autocomplete is optional */ }
      }, 150);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
