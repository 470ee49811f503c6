/* wuye: Chinese for the strings sqladmin 0.32 hard-codes in statics/js/main.js (delete confirmation,
 * CSV import messages, character counter, missed-rows TXT), the import endpoint's plain-text replies
 * and select2's messages.
 *
 * The translations come from admin.po via the JSON block rendered by
 * admin/templates/sqladmin/_zh_cn_strings.html. Load order (admin/templates/sqladmin/base.html):
 * jquery, tabler, select2, flatpickr, flatpickr-zh.js, JSON block, THIS FILE, main.js. */
(function () {
  "use strict";
  var dataEl = document.getElementById("wuye-zh-strings");
  if (!dataEl) {
    return;
  }
  var strings;
  try {
    strings = JSON.parse(dataEl.textContent);
  } catch (error) {
    return;
  }
  var exact = strings.exact || {};
  var tpl = strings.templates || {};
  var has = Object.prototype.hasOwnProperty;
  var $ = window.jQuery;

  // Fill %(name)s placeholders, like main.js's formatImportTemplate.
  function fmt(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (match, key) {
      return has.call(values, key) ? values[key] : match;
    });
  }

  // English text -> template key + names of the regex groups.
  var patterns = [
    [/^Imported (\d+) out of (\d+) row\(s\)\. Skipped (\d+) row\(s\)\.$/, "import_summary", ["imported", "total", "skipped"]],
    [/^Import aborted on invalid row (\d+)\. No rows were imported\.$/, "import_aborted", ["line"]],
    [/^CSV file exceeds the maximum of (\d+) data row\(s\) for this model\.$/, "import_too_many_rows", ["max"]],
    [/^CSV file is missing required column\(s\): (.*)\.$/, "import_missing_columns", ["columns"]],
    [/^Number of characters: (\d+)$/, "chars_count", ["count"]],
    [/^Number of characters: (\d+) \/ (\d+)$/, "chars_count_max", ["count", "max"]]
  ];

  function translate(text) {
    var key = String(text).trim();
    if (has.call(exact, key)) {
      return exact[key];
    }
    for (var i = 0; i < patterns.length; i++) {
      var match = key.match(patterns[i][0]);
      if (match && has.call(tpl, patterns[i][1])) {
        var values = {};
        patterns[i][2].forEach(function (name, index) {
          values[name] = match[index + 1];
        });
        return fmt(tpl[patterns[i][1]], values);
      }
    }
    return text;
  }

  // Elements whose text main.js sets with .text(): translate whatever lands in them.
  function watch(element) {
    function apply() {
      var current = element.textContent;
      var translated = translate(current);
      if (translated !== current) {
        element.textContent = translated; // triggers one more (no-op) mutation
      }
    }
    new MutationObserver(apply).observe(element, { childList: true, characterData: true, subtree: true });
    apply();
  }
  document
    .querySelectorAll("#modal-import-text, #modal-import-result-title, #modal-import-result-summary, .chars-count-label")
    .forEach(watch);

  if (!$) {
    return;
  }

  // select2: main.js initialises its widgets on load, so the defaults must be set before it runs.
  if ($.fn && $.fn.select2 && $.fn.select2.defaults && strings.select2) {
    var s2 = strings.select2;
    $.fn.select2.defaults.set("language", {
      errorLoading: function () { return s2.errorLoading; },
      inputTooLong: function (args) { return fmt(s2.inputTooLong, { count: args.input.length - args.maximum }); },
      inputTooShort: function (args) { return fmt(s2.inputTooShort, { count: args.minimum - args.input.length }); },
      loadingMore: function () { return s2.loadingMore; },
      maximumSelected: function (args) { return fmt(s2.maximumSelected, { count: args.maximum }); },
      noResults: function () { return s2.noResults; },
      searching: function () { return s2.searching; },
      removeAllItems: function () { return s2.removeAllItems; },
      removeItem: function () { return s2.removeItem; },
      search: function () { return s2.search; }
    });
    // main.js falls back to the English placeholder "Search" for ajax selects.
    $(':input[data-role="select2-ajax"]').each(function () {
      if (!this.getAttribute("placeholder")) {
        this.setAttribute("placeholder", s2.search);
      }
    });
  }

  // Everything below must run after main.js: DOM-ready fires after all the page's scripts.
  $(function () {
    // Delete confirmation: main.js writes "This will permanently delete <name> <pk>?" on shown.bs.modal;
    // this handler is bound later, so it runs after main.js's and overwrites the text.
    $(document).on("shown.bs.modal", "#modal-delete", function (event) {
      var trigger = event.relatedTarget ? $(event.relatedTarget) : $("#action-delete");
      var name = trigger.data("name");
      var pk = trigger.data("pk");
      if (Array.isArray(pk)) {
        pk = pk.join(", ");
      }
      $("#modal-delete-text").text(
        fmt(tpl.delete_confirm, { name: name == null ? "" : name, pk: pk == null ? "" : pk })
      );
    });

    // Missed-rows TXT download ("Line: / Data: / Errors:"). main.js declares it as a global function.
    if (typeof window.buildMissedRowsTxt === "function") {
      window.buildMissedRowsTxt = function (missedRows) {
        return missedRows.map(function (row) {
          return [
            fmt(tpl.txt_line, { value: row.line }),
            fmt(tpl.txt_data, { value: JSON.stringify(row.data || {}) }),
            fmt(tpl.txt_errors, { value: JSON.stringify(row.errors || {}) })
          ].join("\n");
        }).join("\n\n");
      };
    }
  });
})();
