// Instant results: fetch the server-rendered results fragment as the user types.
// Without this script the page is a plain GET form with links, and works the same.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const DEBOUNCE_MS = 200;
  const SETTLE_MS = 1500; // as-you-type results read this long count as a search, and keep their history entry
  const MIN_TYPED = 2; // as-you-type waits for two characters (Enter searches a single one)
  const WIDE = window.matchMedia("(min-width: 47.5625em)"); // the filters sit beside the results (app.css)
  const STYLABLE_DETAILS = !!(window.CSS && CSS.supports && CSS.supports("selector(::details-content)"));

  // A thumbnail that fails to load is hidden (the CSP forbids inline onerror handlers). Error events do
  // not bubble, so listen in the capture phase; images that failed before this script ran are found below.
  document.addEventListener("error", function (event) {
    const img = event.target;
    if (img instanceof HTMLImageElement && img.classList.contains("thumb")) img.hidden = true;
  }, true);
  function hideBrokenThumbs(root) {
    for (const img of root.querySelectorAll("img.thumb")) {
      if (img.complete && img.naturalWidth === 0) img.hidden = true;
    }
  }

  // Browsers that cannot style a closed <details> (the stylesheet shows the filters beside the results
  // in the others): open it on a wide screen.
  function showSidebar(root) {
    if (STYLABLE_DETAILS || !WIDE.matches) return;
    for (const details of root.querySelectorAll("details.filters")) details.open = true;
  }

  function start() {
    const form = document.getElementById("search-form");
    const input = document.getElementById("q");
    if (!form || !input) return;
    hideBrokenThumbs(document);
    const region = document.getElementById("results-region");
    if (!region) {
      // error and similar-items pages: the form submits as usual; titles are still suggested
      input.addEventListener("input", function () { suggest(input.value); });
      return;
    }
    showSidebar(region);
    // autofocus puts the caret before the query, and typing would prepend to it: the first focus puts it
    // at the end (a click places it after this, where clicked). Autofocus may come before or after this.
    function caretToEnd() { input.setSelectionRange(input.value.length, input.value.length); }
    if (document.activeElement === input) caretToEnd();
    else input.addEventListener("focus", caretToEnd, { once: true });
    const status = document.getElementById("search-status");
    let timer = null;
    let latest = 0;
    let controller = null;
    let settleTimer = null;
    let lastCounted = new URLSearchParams(window.location.search).toString(); // counted by the server
    // Whether the current history entry holds a search still being typed. Typing replaces that entry;
    // once a search settles (or Enter is pressed) it keeps its entry, and the next keystroke starts a new
    // one, so Back returns to the previous search rather than to half a word.
    let draft = false;

    // Where the reader was on each history entry, so Back returns there. The browser's own restoring
    // came too early: Back from a short page (a story) restored the position before the longer results
    // were fetched back, and a reloaded page's autofocus scrolled to the box instead.
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    let scrollTimer = null;
    function keepScroll() {
      clearTimeout(scrollTimer);
      try {
        history.replaceState(Object.assign({}, history.state, { scrollY: window.scrollY }), "");
      } catch (err) { /* Safari limits history writes: the place is not kept, the search goes on */ }
    }
    window.addEventListener("scroll", function () {
      clearTimeout(scrollTimer);
      scrollTimer = setTimeout(keepScroll, 150);
    }, { passive: true });
    window.addEventListener("pagehide", keepScroll);
    const arrival = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    const returning = arrival && (arrival.type === "back_forward" || arrival.type === "reload");
    const returnTo = returning && history.state ? history.state.scrollY : 0;
    function backToWhereItWas() {
      if (!returnTo) return;
      if (document.activeElement === input) input.blur(); // autofocus: no phone keyboard over the results
      window.scrollTo(0, returnTo);
    }
    if (returnTo) {
      backToWhereItWas();
      requestAnimationFrame(function () { requestAnimationFrame(backToWhereItWas); });
      window.addEventListener("load", backToWhereItWas, { once: true });
    }

    // analytics: fire and forget; the server answers 204 even when they are off
    function report(event) {
      const body = new Blob([JSON.stringify(event)], { type: "application/json" });
      if (navigator.sendBeacon) navigator.sendBeacon("/api/events", body);
    }

    function formParams() {
      const params = new URLSearchParams(new FormData(form)); // facet checkboxes join it with form=
      for (const [key, value] of [...params]) if (!value) params.delete(key);
      return params;
    }

    function remember(url, how) {
      const state = { q: new URL(url, location.href).searchParams.get("q") || "" };
      const same = url === location.pathname + location.search;
      if (how === "type") {
        if (draft) history.replaceState(state, "", url);
        else history.pushState(state, "", url);
        draft = true;
      } else if (how === "submit") {
        if (draft || same) history.replaceState(state, "", url);
        else history.pushState(state, "", url);
        draft = false;
      } else if (how === "push") {
        if (!same) history.pushState(state, "", url);
        draft = false;
      } // "history": the browser has already moved to the entry
    }

    // What replacing the region would lose: the focused control and which disclosures are open. A followed
    // link (``origin``, focused or not) has no id: it is found again by its group and its name, as long as
    // the new region still holds it (a timeline bar now selected, another chip of the same field).
    const GROUPS = [".sort", ".chips", ".timeline", ".did-you-mean", ".story-line", ".empty"];
    function linkName(a) { return (a.getAttribute("aria-label") || a.textContent).split(":")[0].trim(); }
    function snapshot(origin) {
      const active = region.contains(document.activeElement) ? document.activeElement : origin;
      let focus = null;
      let link = null;
      if (active && region.contains(active)) {
        if (active.matches('input[name="filter"]')) focus = 'input[name="filter"][value="' + CSS.escape(active.value) + '"]';
        else if (active.id) focus = "#" + CSS.escape(active.id);
        else if (active.matches("a[data-nav]")) {
          const group = GROUPS.find(function (g) { return active.closest(g); });
          if (group) link = { group: group, name: linkName(active) };
        }
      }
      const open = [...region.querySelectorAll("details[id][open]")].map(function (d) { return d.id; });
      return { focus: focus, link: link, open: open };
    }

    function restore(saved) {
      for (const id of saved.open) {
        const details = document.getElementById(id);
        if (details) details.open = true;
      }
      let target = saved.focus && region.querySelector(saved.focus);
      const group = !target && saved.link && region.querySelector(saved.link.group);
      if (group) target = [...group.querySelectorAll("a[href]")].find(function (a) { return linkName(a) === saved.link.name; });
      if (!target) return;
      for (let d = target.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
      target.focus({ preventScroll: true });
    }

    function announce() {
      if (!status) return;
      const heading = region.querySelector("#results h1");
      const corrected = region.querySelector(".did-you-mean.corrected");
      const text = heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
      status.textContent = (corrected ? corrected.textContent.replace(/\s+/g, " ").trim() + ". " : "") + text;
    }

    async function update(params, how, origin) {
      const seq = ++latest;
      if (how !== "history") keepScroll(); // the entry being left keeps its place
      if (controller) controller.abort();
      controller = new AbortController();
      clearTimeout(settleTimer);
      region.setAttribute("aria-busy", "true");
      // typing and back/forward are not searches of their own; a repeat of the last one is not either
      let intent = how === "type" ? "typing" : how === "history" ? "history" : "search";
      if (intent === "search" && params.toString() === lastCounted) intent = "history";
      try {
        const response = await fetch("/results?" + params.toString(), {
          signal: controller.signal, headers: { "Accept": "text/html", "X-Search-Intent": intent },
        });
        const html = await response.text();
        if (seq !== latest) return false; // a newer request has been sent: drop this stale answer
        const saved = snapshot(origin);
        region.innerHTML = html; // server-rendered, every user string escaped by Jinja
        showSidebar(region);
        restore(saved);
        hideBrokenThumbs(region);
        remember("/" + (params.toString() ? "?" + params.toString() : ""), how);
        document.title = (params.get("q") ? params.get("q") + " – " : "") + "News search";
        announce();
        // a new query typed into the sticky box while scrolled down: its results from the first, focus kept
        if (how === "type" || how === "submit") scrollToResults(true);
        if (intent === "search") lastCounted = params.toString();
        if (how === "type") {
          settleTimer = setTimeout(function () {
            draft = false; // settled: this search keeps its history entry
            if (params.toString() === lastCounted) return;
            lastCounted = params.toString();
            report({ type: "search", params: params.toString() });
          }, SETTLE_MS);
        }
      } catch (err) {
        if (err.name !== "AbortError") region.removeAttribute("aria-busy");
        return false;
      }
      if (seq === latest) region.removeAttribute("aria-busy");
      return true;
    }

    // the results from their top, below the sticky bar; only when scrolled past it (onlyIfPast)
    function scrollToResults(onlyIfPast) {
      const main = document.getElementById("results");
      if (!main) return null;
      const bar = document.querySelector(".topbar");
      const covered = bar && getComputedStyle(bar).position === "sticky" ? bar.offsetHeight : 0;
      const top = main.getBoundingClientRect().top - covered - 8;
      if (!onlyIfPast || top < 0) window.scrollTo({ top: Math.max(0, top + window.scrollY) });
      return main;
    }

    // Next, Previous and the page numbers: show the new page from its top, and move focus there
    function toResults() {
      const main = scrollToResults(false);
      if (!main) return;
      const heading = main.querySelector("h1");
      (heading || main).focus({ preventScroll: true });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        const text = input.value.trim();
        suggest(input.value);
        if (text.length > 0 && text.length < MIN_TYPED) return; // one letter matches too much or nothing
        const params = formParams();
        params.delete("page");
        update(params, "type");
      }, DEBOUNCE_MS);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      const params = formParams();
      params.delete("page");
      update(params, "submit");
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
      update(params, "push", link).then(function (shown) {
        // a new page, or the followed link gone (a sort now chosen, a filter removed): the new results' heading
        if (shown && !region.contains(document.activeElement)) toResults();
      });
    });

    // "Show N results" in the filters on a phone: close them and show what they changed
    region.addEventListener("click", function (event) {
      if (!event.target.closest(".show-results")) return;
      const details = event.target.closest("details");
      if (details) details.open = false;
      toResults();
    });

    // keep the form's hidden sort/limit/group in line with links the user followed
    function syncHidden(params) {
      for (const name of ["sort", "limit", "group"]) {
        let field = form.querySelector('input[type="hidden"][name="' + name + '"]');
        const value = params.get(name);
        if (value && !field) {
          field = document.createElement("input");
          field.type = "hidden";
          field.name = name;
          form.appendChild(field);
        }
        if (field) {
          if (value) field.value = value;
          else field.remove();
        }
      }
    }

    window.addEventListener("popstate", function (event) {
      const params = new URLSearchParams(location.search);
      const y = (event.state && event.state.scrollY) || 0;
      clearTimeout(timer);
      clearTimeout(scrollTimer);
      draft = false;
      input.value = params.get("q") || "";
      syncHidden(params);
      update(params, "history").then(function (shown) { if (shown) window.scrollTo(0, y); });
    });

    WIDE.addEventListener("change", function () { showSidebar(region); });
  }

  let suggestTimer = null;
  function suggest(text) {
    const datalist = document.getElementById("suggestions");
    const input = document.getElementById("q");
    if (!datalist || !input) return;
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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
