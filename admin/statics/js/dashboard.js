// Charts of the home page, the trends and the monthly report (Apache ECharts, served locally). The figures come
// in a <script type="application/json" id="wuye-charts"> block (no inline script under our CSP); each
// element with data-chart="n" gets the n-th chart. SVG rendering keeps the charts sharp on paper.
(function () {
  var FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  var TARGET = '#1d273b';  // the target marks: dark, unlike any series colour

  // The rates arrive already cut (not rounded) to one decimal, as the tables show them (admin/views/dashboard.py
  // _shown_rate → actions/kpis.Figure.shown): only format them, never round again, so a bar's label matches the
  // figure in the table below it.
  function percent(v) {
    if (v === null || v === undefined || v === '-') { return '—'; }
    return Number(v).toFixed(1) + '%';
  }
  function gaps(values) { return values.map(function (v) { return v === null ? '-' : v; }); }

  function common(spec) {
    return {
      animation: false,
      textStyle: { fontFamily: FONT },
      title: { text: spec.title, left: 'center', textStyle: { fontSize: 14, fontFamily: FONT } },
      tooltip: { trigger: 'axis', valueFormatter: percent },
      legend: { bottom: 0, type: 'scroll' },
      grid: { left: 10, right: 20, top: 40, bottom: 40, containLabel: true },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }
    };
  }

  function bars(spec) {
    var option = common(spec);
    option.xAxis = { type: 'category', data: spec.categories, axisLabel: { interval: 0 } };
    option.series = spec.series.map(function (s) {
      return { name: s.name, type: 'bar', data: gaps(s.values),
               label: { show: spec.series.length <= 3, position: 'top', formatter: function (p) { return percent(p.value); } } };
    });
    option.series.push({ name: '目标', type: 'scatter', symbol: 'rect', symbolSize: [36, 3], data: gaps(spec.targets),
                         itemStyle: { color: TARGET }, tooltip: { valueFormatter: percent } });
    return option;
  }

  function lines(spec) {
    var option = common(spec);
    option.xAxis = { type: 'category', data: spec.categories, boundaryGap: false };
    option.series = spec.series.map(function (s, i) {
      var line = { name: s.name, type: 'line', data: gaps(s.values), connectNulls: false, symbolSize: 6,
                   lineStyle: s.total ? { width: 3, type: 'dashed' } : { width: 2 } };
      if (i === 0 && spec.target !== null) {
        line.markLine = { symbol: 'none', silent: true, data: [{ yAxis: spec.target }],
                          label: { formatter: '目标 ' + spec.target + '%', position: 'insideEndTop' },
                          lineStyle: { color: TARGET, type: 'dashed' } };
      }
      return line;
    });
    return option;
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-print]').forEach(function (button) {
      button.addEventListener('click', function () { window.print(); });
    });
    var block = document.getElementById('wuye-charts');
    if (!block || !window.echarts) { return; }
    var specs = JSON.parse(block.textContent);
    var charts = [];
    document.querySelectorAll('[data-chart]').forEach(function (el) {
      var spec = specs[Number(el.getAttribute('data-chart'))];
      if (!spec) { return; }
      var chart = window.echarts.init(el, null, { renderer: 'svg', locale: 'ZH' });
      chart.setOption(spec.kind === 'lines' ? lines(spec) : bars(spec));
      el.setAttribute('data-rendered', 'true');
      charts.push(chart);
    });
    function resize() { charts.forEach(function (c) { c.resize(); }); }
    window.addEventListener('resize', resize);
    window.addEventListener('beforeprint', resize);
    window.addEventListener('afterprint', resize);
  });
})();
