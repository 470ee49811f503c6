/* wuye: date-time pickers keep the seconds' leading zero.
 * sqladmin's main.js creates them with dateFormat "Y-m-d H:i:s", and flatpickr's "s" is the seconds WITHOUT a
 * leading zero ("S" has it): a stored 2026-11-23 10:00:00 read back into the edit form as "2026-11-23 10:00:0".
 * Load after js/flatpickr.min.js (which adds jQuery.fn.flatpickr) and BEFORE main.js, which creates the pickers
 * as soon as it runs. Included by admin/templates/sqladmin/base.html ({% block tail_js %}). */
(function () {
  "use strict";
  var $ = window.jQuery;
  if (!$ || !$.fn || typeof $.fn.flatpickr !== "function") {
    return;
  }
  var create = $.fn.flatpickr;
  $.fn.flatpickr = function (config) {
    if (config && typeof config.dateFormat === "string") {
      // every unescaped "s" token becomes "S" (flatpickr escapes a literal letter with a backslash)
      config = $.extend({}, config, { dateFormat: config.dateFormat.replace(/(^|[^\\])s/g, "$1S") });
    }
    return create.call(this, config);
  };
})();
