/* wuye: Simplified Chinese locale for flatpickr 4.6 (sqladmin ships flatpickr without locales).
 * Load after js/flatpickr.min.js and BEFORE sqladmin's js/main.js: main.js creates the date
 * pickers as soon as it runs, and flatpickr.localize() only affects pickers created afterwards.
 * Included by admin/templates/sqladmin/base.html ({% block tail_js %}). */
(function () {
  "use strict";
  var flatpickr = window.flatpickr;
  if (!flatpickr || typeof flatpickr.localize !== "function") {
    return;
  }

  var zh = {
    weekdays: {
      shorthand: ["日", "一", "二", "三", "四", "五", "六"],
      longhand: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"]
    },
    months: {
      shorthand: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      longhand: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"]
    },
    firstDayOfWeek: 1,
    ordinal: function () {
      return "";
    },
    rangeSeparator: " 至 ",
    weekAbbreviation: "周",
    scrollTitle: "滚动切换",
    toggleTitle: "点击切换",
    amPM: ["上午", "下午"],
    yearAriaLabel: "年",
    monthAriaLabel: "月",
    hourAriaLabel: "时",
    minuteAriaLabel: "分",
    time_24hr: true
  };

  if (flatpickr.l10ns) {
    flatpickr.l10ns.zh = zh;
  }
  flatpickr.localize(zh);
})();
