/* wuye: the console's date and date-time pickers (flatpickr, created by sqladmin's main.js).
 * 1. The seconds keep their leading zero: main.js asks for "Y-m-d H:i:s", and flatpickr's "s" is the seconds
 *    WITHOUT a leading zero ("S" has it) — a stored 10:00:00 read back as "10:00:0".
 * 2. A date typed the ways people type it is understood — 20261207, 2026/12/7, 2026.12.7, 2026年12月7日, 12月7日,
 *    今天/明天/昨天, with an optional time 14:30 or 14:30:05 — and anything else is REFUSED, never changed:
 *    flatpickr alone reads 20261207 as 2027-08-07, 2026-13-01 as 2027-01-01 and blanks 明天. A refused text stays
 *    in the field, marked invalid with a Chinese message that also stops the form from being submitted.
 * Load after js/flatpickr.min.js (which adds jQuery.fn.flatpickr) and BEFORE main.js, which creates the pickers
 * as soon as it runs. Included by admin/templates/sqladmin/base.html ({% block tail_js %}). */
(function () {
  "use strict";

  function halfWidth(text) {
    return String(text || "").replace(/[\uff01-\uff5e]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
    }).replace(/\u3000/g, " ").trim();
  }

  function validDay(y, m, d) {
    var day = new Date(y, m - 1, d);
    return day.getFullYear() === y && day.getMonth() === m - 1 && day.getDate() === d ? day : null;
  }

  var RELATIVE = { "今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "昨天": -1, "昨日": -1 };

  /* The Date a typed text means, or null when it is not one of the forms above (or not a real day/time). */
  function parseTyped(raw, withTime) {
    var text = halfWidth(raw);
    if (!text) return null;
    var time = [0, 0, 0];
    var t = /^(.*?)(?:[\sT]+|(?=\d{1,2}:\d{2}))(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
    if (t && t[1]) {
      text = t[1].trim();
      time = [+t[2], +t[3], t[4] ? +t[4] : 0];
      if (time[0] > 23 || time[1] > 59 || time[2] > 59) return null;
    } else if (withTime) {
      var compact = /^(\d{8})(\d{2})(\d{2})(\d{2})?$/.exec(text);  // 202612071430
      if (compact) {
        text = compact[1];
        time = [+compact[2], +compact[3], compact[4] ? +compact[4] : 0];
        if (time[0] > 23 || time[1] > 59 || time[2] > 59) return null;
      }
    }
    var y, m, d, found;
    var now = new Date();
    if (Object.prototype.hasOwnProperty.call(RELATIVE, text)) {
      var base = new Date(now.getFullYear(), now.getMonth(), now.getDate() + RELATIVE[text]);
      y = base.getFullYear(); m = base.getMonth() + 1; d = base.getDate();
    } else if ((found = /^(\d{4})(\d{2})(\d{2})$/.exec(text))) {
      y = +found[1]; m = +found[2]; d = +found[3];
    } else if ((found = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$/.exec(text))) {
      y = +found[1]; m = +found[2]; d = +found[3];
    } else if ((found = /^(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$/.exec(text))) {
      y = now.getFullYear(); m = +found[1]; d = +found[2];
    } else {
      return null;  // 12/07/2026 (day or month first?), 2026-12, words: not guessed at
    }
    var day = validDay(y, m, d);
    if (!day) return null;
    day.setHours(time[0], time[1], time[2], 0);
    return day;
  }
  window.wuyeParseTypedDate = parseTyped;

  function message(withTime) {
    return "无法识别的" + (withTime ? "日期时间" : "日期") + "，请按 2026-12-07" + (withTime ? " 14:30" : "") +
      " 或 20261207、2026年12月7日、12月7日 填写";
  }

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
    if (config && config.allowInput) {
      var withTime = !!config.enableTime;
      var refused = null;  // the text the last parse could not read: put back instead of the blank flatpickr writes
      config = $.extend({}, config, {
        parseDate: function (text) {
          var value = parseTyped(text, withTime);
          refused = value ? null : text;
          return value || undefined;
        },
        errorHandler: function () {},
        onValueUpdate: [function (dates, str, picker) {
          var input = picker._input;
          if (refused && !dates.length) {
            input.value = refused;
            input.setCustomValidity(message(withTime));
            input.reportValidity();
          } else {
            input.setCustomValidity("");
          }
        }],
      });
      var result = create.call(this, config);
      // typing again clears the mark (flatpickr's own "input" event after a change is not the user typing)
      this.on("input", function (event) {
        if (event.originalEvent && event.originalEvent.isTrusted) {
          this.setCustomValidity("");
          refused = null;
        }
      });
      return result;
    }
    return create.call(this, config);
  };
})();
