/* Reports: draw each chart from the JSON block beside it (no inline code: the CSP is 'self').
   Chart specs come from app/console/exports.py: {type, categories, series, marks, unit}. */
(function () {
  "use strict";
  if (typeof echarts === "undefined") { return; }
  var PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777",
                 "#65a30d", "#ea580c", "#475569"];
  var narrow = function () { return window.matchMedia("(max-width: 720px)").matches; };

  function axisLabel(unit) {
    return unit ? {formatter: "{value}" + unit} : {};
  }

  function cartesian(spec, horizontal) {
    var category = {type: "category", data: spec.categories,
                    axisLabel: {hideOverlap: true, interval: "auto",
                                width: narrow() ? 90 : 160, overflow: "truncate"}};
    var value = {type: "value", minInterval: spec.unit ? 0 : 1, axisLabel: axisLabel(spec.unit)};
    var series = spec.series.map(function (s, i) {
      var data = s.data;
      if (spec.flags) {   // flagged bars (above the alert rule) in red; the rule is the black line
        data = s.data.map(function (v, k) {
          return spec.flags[k] ? {value: v, itemStyle: {color: "#dc2626"}} : v;
        });
      }
      var item = {name: s.name, type: spec.type === "line" ? "line" : "bar", data: data,
                  itemStyle: {color: PALETTE[i % PALETTE.length]}};
      if (spec.type === "line") { item.smooth = false; item.areaStyle = {opacity: 0.12}; }
      if (i === 0 && spec.marks && spec.marks.length) {
        // The lines carry no labels (they collide at phone width): the title names them.
        var styles = [{color: "#2563eb", type: "dashed"}, {color: "#111827", type: "solid"}];
        item.markLine = {symbol: "none", silent: true, label: {show: false},
                         data: spec.marks.map(function (m, k) {
                           var line = {name: m.name, lineStyle: styles[k % styles.length]};
                           line[horizontal ? "xAxis" : "yAxis"] = m.value;
                           return line;
                         })};
      }
      return item;
    });
    var marks = (spec.marks || []).map(function (m, k) {
      return (k ? "黑线" : "蓝色虚线") + "：" + m.name + " " + m.value + (spec.unit || "");
    }).join("　");
    return {
      color: PALETTE,
      title: marks ? {text: marks, left: 0, top: 0,
                      textStyle: {fontSize: 12, fontWeight: "normal", color: "#57606a"}}
                   : undefined,
      tooltip: {trigger: "axis", confine: true},
      legend: spec.series.length > 1 ? {top: 0, type: "scroll"} : undefined,
      grid: {left: 8, right: 16,
             top: spec.series.length > 1 ? 32 : (horizontal && spec.marks ? 28 : 16), bottom: 8,
             containLabel: true},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({}, category, {inverse: true}) : value,
      dataZoom: (!horizontal && spec.categories.length > 40)
        ? [{type: "inside"}, {type: "slider", height: 16, bottom: 0}] : undefined,
      series: series
    };
  }

  function pie(spec) {
    return {
      color: PALETTE,
      tooltip: {trigger: "item", confine: true, formatter: "{b}: {c} ({d}%)"},
      legend: {bottom: 0, type: "scroll"},
      series: spec.series.map(function (s) {
        return {name: s.name, type: "pie", radius: narrow() ? ["30%", "60%"] : ["35%", "65%"],
                center: ["50%", "45%"], data: s.data,
                label: narrow() ? {position: "inside", formatter: "{d}%", color: "#fff"}
                                : {formatter: "{b}\n{d}%"}};
      })
    };
  }

  function gauge(spec) {
    return {
      series: [{type: "gauge", min: 0, max: 100, progress: {show: true},
                detail: {formatter: "{value}%", fontSize: 22}, title: {show: true},
                data: [{name: spec.series[0].name, value: spec.series[0].data[0]}]}]
    };
  }

  function option(spec) {
    if (spec.type === "pie") { return pie(spec); }
    if (spec.type === "gauge") { return gauge(spec); }
    if (spec.type === "hbar") { return cartesian(spec, true); }
    return cartesian(spec, false);   // line, bar, grouped (one bar series per channel)
  }

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    if (spec.type === "hbar") {
      el.style.height = Math.max(220, 36 * spec.categories.length + 40) + "px";
    }
    var chart = echarts.init(el, null, {renderer: "canvas"});
    // Marked once drawn and its entry animation finished (tests and screenshots wait on it).
    chart.on("finished", function () { el.setAttribute("data-chart-ready", "1"); });
    chart.setOption(option(spec));
    charts.push(chart);
  });
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 100);
  });
})();
