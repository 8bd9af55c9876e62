/* The channel form shows the settings of the kind chosen, and calls the credential by that
   kind's name ("Integration key", "Webhook URL", ...), hiding it for kinds that have none
   (the console inbox, e-mail). What each kind has comes from the server: every setting's input
   says its kinds in data-kind, every option of the kind's list its credential's label and help
   (policies/admin/channel_form.py). Without JavaScript the form still works: every row shows,
   and each help text says which kind it belongs to. */
function channelForm() {
  "use strict";
  var form = document.getElementById("channel_form");
  var select = form ? form.querySelector("select[name=kind]") : null;
  if (!select || select.disabled) {
    return; // a change page: the kind is fixed, and the server shows only its rows
  }
  var credential = form.querySelector("[name=secret]");
  var credentialRow = credential ? credential.closest(".form-row") : null;
  var credentialLabel = credentialRow ? credentialRow.querySelector("label") : null;
  var credentialHelp = document.getElementById("id_secret_helptext");
  var settings = Array.prototype.slice.call(form.querySelectorAll("[data-kind]"));

  function chosen() {
    return select.options[select.selectedIndex] || null;
  }

  function belongs(input, kind) {
    return input.dataset.kind.split(" ").indexOf(kind) >= 0;
  }

  function show() {
    var option = chosen();
    if (!option) {
      return;
    }
    settings.forEach(function (input) {
      var row = input.closest(".form-row");
      if (row) {
        // style, not the hidden attribute: the admin's CSS gives rows a display of their own.
        row.style.display = belongs(input, option.value) ? "" : "none";
      }
    });
    if (!credentialRow) {
      return;
    }
    var label = option.dataset.credentialLabel || "";
    credentialRow.style.display = label ? "" : "none";
    if (label && credentialLabel) {
      credentialLabel.textContent = label + ":";
    }
    if (label && credentialHelp) {
      credentialHelp.textContent =
        option.dataset.credentialHelp + " A secret, never shown whole after saving.";
    }
  }

  select.addEventListener("change", show);
  // What a hidden row holds is not the chosen kind's: it is not sent, so that a credential
  // typed before switching to the inbox is not refused, nor kept.
  form.addEventListener("submit", function () {
    var option = chosen();
    if (credential && option && !option.dataset.credentialLabel) {
      credential.value = "";
    }
    settings.forEach(function (input) {
      if (option && !belongs(input, option.value)) {
        input.value = "";
      }
    });
  });
  show();
}

// The admin loads this in the page's head, before the form exists.
document.addEventListener("DOMContentLoaded", channelForm);
