// The todo app's front end: plain DOM calls against the /items API, no framework.
"use strict";

const list = document.getElementById("items");
const empty = document.getElementById("empty");
const statusLine = document.getElementById("status");
const form = document.getElementById("add");
const nameInput = document.getElementById("name");

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    throw new Error((data && data.error) || resp.statusText);
  }
  return data;
}

function report(err) {
  statusLine.textContent = err ? String(err.message || err) : "";
}

function render(items) {
  list.replaceChildren(...items.map(itemRow));
  empty.hidden = items.length > 0;
}

function itemRow(item) {
  const li = document.createElement("li");
  li.dataset.id = item.id;
  li.classList.toggle("completed", item.completed);

  const done = document.createElement("input");
  done.type = "checkbox";
  done.checked = item.completed;
  done.setAttribute("aria-label", item.completed ? "Mark item as incomplete" : "Mark item as complete");
  done.addEventListener("change", () =>
    api("PUT", "/items/" + encodeURIComponent(item.id), { name: item.name, completed: done.checked })
      .then(refresh, report));

  const name = document.createElement("span");
  name.className = "name";
  name.textContent = item.name;

  const remove = document.createElement("button");
  remove.className = "remove";
  remove.type = "button";
  remove.textContent = "\u2715";
  remove.setAttribute("aria-label", "Remove item");
  remove.addEventListener("click", () =>
    api("DELETE", "/items/" + encodeURIComponent(item.id)).then(refresh, report));

  li.append(done, name, remove);
  return li;
}

function refresh() {
  return api("GET", "/items").then((items) => { report(null); render(items); }, report);
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = nameInput.value.trim();
  if (!name) return;
  api("POST", "/items", { name }).then(() => { nameInput.value = ""; return refresh(); }, report);
});

refresh();
