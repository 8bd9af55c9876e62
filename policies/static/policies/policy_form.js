/* The policy form shows the fields of the kind chosen, and "Start from LiteLLM's defaults"
   fills in that kind's defaults without a reload, keeping what was typed. The kinds, their
   fields and defaults come from the server (policies/admin/policy.py, kind_form_spec). Without
   JavaScript the form still works: every field shows, and the links reload with defaults. */
function policyForm() {
  "use strict";
  var holder = document.getElementById("policy-kinds");
  var form = document.getElementById("alertpolicy_form");
  if (!holder || !form) {
    return;
  }
  var spec = JSON.parse(holder.dataset.kinds);
  var conditional = [];
  Object.keys(spec).forEach(function (kind) {
    spec[kind].fields.concat(spec[kind].hides).forEach(function (name) {
      if (conditional.indexOf(name) < 0) {
        conditional.push(name);
      }
    });
  });
  var edited = {};
  form.addEventListener("input", function (event) {
    if (event.target.name) {
      edited[event.target.name] = true;
    }
  });

  function chosen() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : null;
  }

  function field(name) {
    return form.querySelector("[name=" + name + "]");
  }

  function show() {
    var kind = chosen();
    if (!kind || !spec[kind]) {
      return;
    }
    conditional.forEach(function (name) {
      var row = form.querySelector(".field-" + name);
      if (row) {
        // style, not the hidden attribute: the admin's CSS gives rows a display of their own.
        var own = spec[kind].fields.indexOf(name) >= 0;
        var everyones = Object.keys(spec).every(function (other) {
          return spec[other].fields.indexOf(name) < 0;
        });
        var shown = own || (everyones && spec[kind].hides.indexOf(name) < 0);
        row.style.display = shown ? "" : "none";
      }
    });
  }

  function fillDefaults(kind) {
    Object.keys(spec[kind].defaults).forEach(function (name) {
      var input = field(name);
      if (input && !edited[name]) {
        input.value = spec[kind].defaults[name];
      }
    });
  }

  form.querySelectorAll("input[name=kind]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      fillDefaults(radio.value);
      show();
    });
  });
  document.querySelectorAll("[data-policy-defaults]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var kind = link.dataset.policyDefaults;
      var radio = form.querySelector("input[name=kind][value=" + kind + "]");
      if (radio) {
        radio.checked = true;
      }
      fillDefaults(kind);
      show();
    });
  });
  // A field the kind does not use is sent empty: the server refuses T or R on other kinds.
  form.addEventListener("submit", function () {
    var kind = chosen();
    (kind && spec[kind] ? spec[kind].empty_otherwise : []).forEach(function (name) {
      var input = field(name);
      if (input && spec[kind].fields.indexOf(name) < 0) {
        input.value = "";
      }
    });
  });
  show();
}

// The admin loads this in the page's head, before the form exists.
document.addEventListener("DOMContentLoaded", policyForm);
