// The step editor: add, reorder and remove a task's steps; each action's fields come from the
// step schemas the API validates with (#step-schemas), and every change is checked by the API's
// own validation (POST /console/tasks/validate), whose message is shown as is.
(function () {
  "use strict";
  var form = document.getElementById("task-form");
  if (!form) return;
  var schemas = JSON.parse(document.getElementById("step-schemas").textContent);
  var hidden = document.getElementById("steps-json");
  var list = document.getElementById("steps");
  var check = document.getElementById("check");
  var csrf = form.querySelector("input[name=csrf]").value;
  var steps = JSON.parse(hidden.value || "[]");

  function resolve(schema, prop) {
    var options = (prop.anyOf || [prop]).filter(function (o) { return o.type !== "null"; });
    var one = options.length === 1 ? options[0] : {};
    if (one.$ref) one = (schema.$defs || {})[one.$ref.split("/").pop()] || {};
    if (one.const !== undefined) return { kind: "select", options: [one.const] };
    if (one.enum) return { kind: "select", options: one.enum };
    if (one.type === "boolean") return { kind: "checkbox" };
    if (one.type === "integer" || one.type === "number") return { kind: "number" };
    if (one.type === "string") return { kind: "text" };
    return { kind: "json" };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fieldFor(step, index, name, prop, schema) {
    var how = resolve(schema, prop), value = (step.config || {})[name], id = "s" + index + "-" + name;
    var row = el("div", { "class": "field" });
    var required = (schema.required || []).indexOf(name) >= 0;
    row.appendChild(el("label", { "for": id }, name + (required ? " *" : "")));
    var input;
    if (how.kind === "select") {
      input = el("select", { id: id });
      if (!required) input.appendChild(el("option", { value: "" }, "—"));
      how.options.forEach(function (o) {
        var opt = el("option", { value: String(o) }, String(o));
        if (String(value === undefined ? prop["default"] : value) === String(o)) opt.selected = true;
        input.appendChild(opt);
      });
    } else if (how.kind === "checkbox") {
      input = el("input", { id: id, type: "checkbox" });
      input.checked = value === undefined ? Boolean(prop["default"]) : Boolean(value);
    } else if (how.kind === "json") {
      input = el("textarea", { id: id, rows: "2", placeholder: "JSON" });
      input.value = value === undefined ? "" : JSON.stringify(value);
    } else {
      input = el("input", { id: id, type: how.kind === "number" ? "text" : "text", inputmode: how.kind === "number" ? "decimal" : "text" });
      input.value = value === undefined ? "" : String(value);
    }
    input.setAttribute("data-name", name);
    input.setAttribute("data-kind", how.kind);
    input.addEventListener("change", function () { read(); });
    row.appendChild(input);
    return row;
  }

  function draw() {
    list.textContent = "";
    steps.forEach(function (step, index) {
      var schema = schemas[step.action] || { properties: {} };
      var box = el("div", { "class": "step", "data-index": String(index), "data-action": step.action });
      var head = el("header");
      head.appendChild(el("strong", {}, (index + 1) + ". " + step.action));
      head.appendChild(el("small", { "class": "grow note" }, step.uid ? "uid " + step.uid : "new step"));
      [["↑", -1, "up"], ["↓", 1, "down"]].forEach(function (m) {
        var b = el("button", { type: "button", "class": "move-" + m[2], title: "move " + m[2] }, m[0]);
        b.addEventListener("click", function () { move(index, m[1]); });
        head.appendChild(b);
      });
      var remove = el("button", { type: "button", "class": "danger remove", title: "remove" }, "✕");
      remove.addEventListener("click", function () { steps.splice(index, 1); draw(); changed(); });
      head.appendChild(remove);
      box.appendChild(head);
      Object.keys(schema.properties || {}).forEach(function (name) {
        box.appendChild(fieldFor(step, index, name, schema.properties[name], schema));
      });
      if (index > 0) {
        var it = el("label", {}, " iterate over the previous step's list");
        var box2 = el("input", { type: "checkbox", "class": "iterate" });
        box2.checked = Boolean(step.iterate);
        box2.addEventListener("change", function () { read(); });
        it.prepend(box2);
        box.appendChild(it);
      }
      list.appendChild(box);
    });
    hidden.value = JSON.stringify(steps);
  }

  function read() {
    list.querySelectorAll(".step").forEach(function (box) {
      var step = steps[Number(box.getAttribute("data-index"))], config = {};
      box.querySelectorAll("[data-name]").forEach(function (input) {
        var name = input.getAttribute("data-name"), kind = input.getAttribute("data-kind");
        if (kind === "checkbox") { config[name] = input.checked; return; }
        var text = input.value.trim();
        if (text === "") return;
        if (kind === "number") { config[name] = isNaN(Number(text)) ? text : Number(text); return; }
        if (kind === "json") { try { config[name] = JSON.parse(text); } catch (e) { config[name] = text; } return; }
        config[name] = text;
      });
      step.config = config;
      var iterate = box.querySelector("input.iterate");
      if (iterate && iterate.checked) step.iterate = true; else delete step.iterate;
    });
    hidden.value = JSON.stringify(steps);
    changed();
  }

  function move(index, by) {
    var to = index + by;
    if (to < 0 || to >= steps.length) return;
    var step = steps.splice(index, 1)[0];
    steps.splice(to, 0, step);
    draw(); changed();
  }

  var timer = null;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      fetch(form.getAttribute("action").replace(/\/tasks(\/[^/]+)?$/, "/tasks/validate"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(steps)
      }).then(function (r) { return r.json(); }).then(function (answer) {
        check.textContent = answer.ok ? "The steps are valid." : answer.message;
        check.className = answer.ok ? "note" : "error";
        check.setAttribute("data-ok", answer.ok ? "1" : "0");
      });
    }, 250);
  }

  document.getElementById("add-step").addEventListener("click", function () {
    read();
    steps.push({ action: document.getElementById("add-action").value, config: {} });
    draw(); changed();
  });
  form.addEventListener("submit", function () { read(); });
  draw();
})();
