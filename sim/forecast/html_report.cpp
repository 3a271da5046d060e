#include "forecast/html_report.hpp"

#include "base/xml_escape.hpp"

#include <fmt/format.h>

namespace tcpsim {
namespace {

std::string esc(std::string_view s) { return xml_escape(s); }

// JSON inside <script>: "</" would end the element.
std::string script_safe(std::string json) {
    for (std::size_t p = json.find("</"); p != std::string::npos; p = json.find("</", p + 3)) json.replace(p, 2, "<\\/");
    return json;
}

// The page's own code: it reads the data block and draws one chart per group of CSV columns. A
// column it does not know goes by its name: latency and percentiles to the latency chart,
// failures, breaches and timeouts to the failures chart, anything else to "other series", so a
// new CSV column shows up without a change here.
constexpr const char* kPageScript = R"js(
(function () {
  const status = document.getElementById('status');
  const errors = window.tcpsimErrors;
  const D = JSON.parse(document.getElementById('tcpsim-data').textContent);
  const lines = D.csv.trim().split('\n');
  const cols = lines[0].split(',');
  const rows = lines.slice(1).map(l => l.split(',').map(Number));
  const col = i => rows.map(r => r[i]);
  const t = col(cols.indexOf('time_s'));
  const STATES = ['ESTABLISHED', 'SYN-SENT', 'SYN-RECEIVED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSE-WAIT',
                  'LAST-ACK', 'CLOSING', 'LISTEN'];
  const SHOWN = ['TIME-WAIT', 'ESTABLISHED', 'SYN-SENT', 'FIN-WAIT-2'];
  const COLOURS = {'TIME-WAIT': '#d9443a', 'ESTABLISHED': '#2e8b3e', 'SYN-SENT': '#d4a017', 'FIN-WAIT-2': '#f39c34'};
  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'DejaVu Sans, Helvetica, Arial, sans-serif';
  // The first failure, and the first breach of an objective (the end of the interval it was
  // judged in), as dashed vertical lines on every time chart.
  const marks = [];
  if (D.first_failure_s !== null) marks.push([D.first_failure_s, '#c0392b', 'first failure ' + D.first_failure_s + ' s (' + D.first_failure_kind + ')']);
  if (D.first_breach_s !== null && D.first_breach_s !== undefined)
    marks.push([D.first_breach_s, '#d35400', 'first breach ' + D.first_breach_s + ' s (' + D.first_breach_objective + ')']);
  Chart.register({
    id: 'firstFailure',
    afterDraw(c) {
      const s = c.scales.x;
      if (s === undefined) return;
      marks.forEach(([x, colour, label], k) => {
        if (x < s.min || x > s.max) return;
        const px = s.getPixelForValue(x), ctx = c.ctx;
        ctx.save();
        ctx.strokeStyle = colour;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(px, c.chartArea.top);
        ctx.lineTo(px, c.chartArea.bottom);
        ctx.stroke();
        ctx.fillStyle = colour;
        ctx.fillText(label, px + 4, c.chartArea.top + 12 + 14 * k);
        ctx.restore();
      });
    }
  });
  const charts = [];
  const series = (label, ys, colour, extra) => Object.assign({
    label, data: t.map((x, i) => ({x, y: ys[i]})), borderColor: colour, backgroundColor: colour,
    pointRadius: 0, borderWidth: 1.8, stepped: false
  }, extra || {});
  function chart(title, note, datasets, ytitle, type) {
    const sec = document.createElement('section');
    sec.className = 'chart';
    const h = document.createElement('h3');
    h.textContent = title;
    sec.appendChild(h);
    if (note) {
      const p = document.createElement('p');
      p.className = 'note';
      p.textContent = note;
      sec.appendChild(p);
    }
    const box = document.createElement('div');
    box.className = 'canvas-box';
    const canvas = document.createElement('canvas');
    box.appendChild(canvas);
    sec.appendChild(box);
    document.getElementById('charts').appendChild(sec);
    const c = new Chart(canvas, {
      type: type || 'line',
      data: {datasets},
      options: {
        parsing: false, normalized: true, maintainAspectRatio: false, responsive: true,
        interaction: {mode: 'nearest', axis: 'x', intersect: false},
        scales: {
          x: {type: 'linear', title: {display: true, text: 'simulated time (s)'}},
          y: {beginAtZero: true, title: {display: true, text: ytitle}}
        },
        plugins: {legend: {position: 'bottom'}}
      }
    });
    c.tcpsimTitle = title;
    charts.push(c);
  }
  // Columns by kind.
  const hosts = [], nats = [], natAddresses = {}, used = new Set(['time_s', 'offered', 'completed', 'failed']);
  cols.forEach((name, i) => {
    const dot = name.lastIndexOf('.');
    if (dot < 0) return;
    const owner = name.slice(0, dot), what = name.slice(dot + 1);
    const at = owner.indexOf('@');
    if (at > 0 && what === 'ports_in_use') {  // NAME@ADDRESS.ports_in_use: one outer address of a NAT
      (natAddresses[owner.slice(0, at)] = natAddresses[owner.slice(0, at)] || []).push(name);
      used.add(name);
    } else if (STATES.includes(what)) {
      if (!hosts.includes(owner)) hosts.push(owner);
      used.add(name);
    } else if (['transitory', 'established', 'time_wait', 'ports_in_use'].includes(what)) {
      if (!nats.includes(owner)) nats.push(owner);
      used.add(name);
    }
  });
  const idx = name => cols.indexOf(name);
  // 1. States per host.
  hosts.forEach(hname => {
    const ds = SHOWN.filter(s => idx(hname + '.' + s) >= 0).map(s => series(s, col(idx(hname + '.' + s)), COLOURS[s]));
    if (ds.some(d => d.data.some(p => p.y > 0)))
      chart('States on ' + hname, 'Sockets in each state at the end of each report interval (TIME-WAIT includes the kernel\'s mini-sockets).', ds, 'sockets');
  });
  // 2. Ports in use against the pool: every socket of a host that connects holds a port.
  hosts.forEach(hname => {
    const ss = STATES.filter(s => s !== 'LISTEN' && idx(hname + '.' + s) >= 0);
    const synsent = idx(hname + '.SYN-SENT') >= 0 ? col(idx(hname + '.SYN-SENT')) : [];
    const opens = hname === D.first_failure_host || synsent.some(v => v > 0);
    if (!opens || D.pool === null) return;
    const inuse = rows.map(r => ss.reduce((a, s) => a + r[idx(hname + '.' + s)], 0));
    chart('Ports in use on ' + hname + ' against the pool',
          'Connections of ' + hname + ' (all states but LISTEN); the pool: ' + D.pool_basis + '.',
          [series('ports in use', inuse, '#1f77b4'),
           series('pool (' + D.pool + ')', t.map(() => D.pool), '#c0392b', {borderDash: [4, 4], borderWidth: 1.2})],
          'ports');
  });
  // 3. Requests and failures per interval, and any failure-like column.
  const extra = cols.filter(n => !used.has(n));
  const failureLike = extra.filter(n => /fail|breach|slo|timeout|unfinished|drop|retransmit/i.test(n));
  const latencyLike = extra.filter(n => /latency|_p\d+|percentile|_ms$|_us$/i.test(n) && !failureLike.includes(n));
  const other = extra.filter(n => !failureLike.includes(n) && !latencyLike.includes(n));
  const perInterval = [series('failed', col(idx('failed')), '#c0392b'),
                       series('completed', col(idx('completed')), '#2e8b3e'),
                       series('offered', col(idx('offered')), '#7f7f7f', {borderDash: [3, 3]})];
  failureLike.forEach((n, k) => perInterval.push(series(n, col(idx(n)), PALETTE[(k + 3) % PALETTE.length])));
  chart('Requests and failures per interval', 'Counts during each report interval.', perInterval, 'requests');
  // 4. Connect latency percentiles per interval, when the CSV has them.
  if (latencyLike.length > 0)
    chart('Connect latency per interval', null, latencyLike.map((n, k) => series(n, col(idx(n)), PALETTE[k % PALETTE.length])), 'latency');
  else
    document.getElementById('charts').insertAdjacentHTML('beforeend',
      '<p class="note">No per-interval latency columns in this forecast\'s CSV: the whole run\'s connect latency is in the report above.</p>');
  // 5. Each NAT's (or SNAT balancer's) ports.
  nats.forEach(n => {
    const parts = [['ports_in_use', '#1f77b4'], ['established', '#2e8b3e'], ['time_wait', '#d9443a'], ['transitory', '#d4a017']];
    chart('Ports of ' + n, 'Mappings by state and outer ports in use, over all of its addresses.',
          parts.filter(([p]) => idx(n + '.' + p) >= 0).map(([p, c]) => series(p, col(idx(n + '.' + p)), c)), 'ports');
  });
  // 6. Each NAT's ports in use per outer address (the first 24 addresses).
  Object.keys(natAddresses).forEach(n => {
    const names = natAddresses[n];
    chart('Ports in use per address of ' + n,
          'Outer ports with a mapping at the end of each report interval, one line per address' +
          (names.length > 24 ? ' (the first 24 of ' + names.length + ')' : '') + '.',
          names.slice(0, 24).map((c, k) => series(c.slice(n.length + 1, c.lastIndexOf('.')), col(idx(c)), PALETTE[k % PALETTE.length])),
          'ports');
  });
  if (other.length > 0)
    chart('Other series', null, other.map((n, k) => series(n, col(idx(n)), PALETTE[k % PALETTE.length])), '');
  // For tests and people: what was drawn.
  const sizes = charts.map(c => c.width + 'x' + c.height);
  const ok = charts.length > 0 && charts.every(c => c.width > 0 && c.height > 0);
  status.dataset.charts = String(charts.length);
  status.dataset.ok = ok && errors.length === 0 ? '1' : '0';
  status.textContent = 'charts=' + charts.length + ' rendered=' + ok + ' sizes=' + sizes.join(',') +
    ' errors=' + errors.length + ' resources=' + performance.getEntriesByType('resource').length;
})();
)js";

// The what-if tools' page: charts of CSV rows, one category per row (a swept value, a probe, a
// remedy). D.charts lists them: {title, type, x, ys, passed}.
constexpr const char* kTableScript = R"js(
(function () {
  const status = document.getElementById('status');
  const errors = window.tcpsimErrors;
  const D = JSON.parse(document.getElementById('tcpsim-data').textContent);
  // RFC 4180 fields: quoted ones may hold commas and doubled quotes.
  function parse(text) {
    const rows = [];
    let row = [], field = '', quoted = false;
    for (let i = 0; i < text.length; ++i) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; ++i; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') { row.push(field); field = ''; }
      else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
      else field += c;
    }
    if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
    return rows;
  }
  const all = parse(D.csv);
  const cols = all[0], rows = all.slice(1);
  const PALETTE = ['#7f7f7f', '#1f77b4', '#c0392b', '#2e8b3e', '#9467bd', '#ff7f0e'];
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'DejaVu Sans, Helvetica, Arial, sans-serif';
  const charts = [];
  D.charts.forEach(spec => {
    const xi = cols.indexOf(spec.x);
    const ys = spec.ys.filter(y => cols.indexOf(y) >= 0);
    if (xi < 0 || ys.length === 0) return;
    const sec = document.createElement('section');
    sec.className = 'chart';
    sec.innerHTML = '<h3></h3><div class="canvas-box"><canvas></canvas></div>';
    sec.querySelector('h3').textContent = spec.title;
    document.getElementById('charts').appendChild(sec);
    const pi = cols.indexOf(spec.passed || '');
    const datasets = ys.map((y, k) => {
      const yi = cols.indexOf(y);
      const colour = PALETTE[(k + (spec.type === 'bar' ? 1 : 0)) % PALETTE.length];
      const d = {label: y, data: rows.map(r => r[yi] === '' ? null : Number(r[yi])), borderColor: colour,
                 backgroundColor: colour, borderWidth: 2, pointRadius: 3};
      if (pi >= 0) d.backgroundColor = rows.map(r => r[pi] === '1' ? '#2e8b3e' : '#c0392b');
      return d;
    });
    const c = new Chart(sec.querySelector('canvas'), {
      type: spec.type,
      data: {labels: rows.map(r => r[xi]), datasets},
      options: {maintainAspectRatio: false, responsive: true, plugins: {legend: {position: 'bottom'}},
                scales: {x: {title: {display: true, text: spec.x}}, y: {beginAtZero: true}}}
    });
    charts.push(c);
  });
  const ok = charts.length > 0 && charts.every(c => c.width > 0 && c.height > 0);
  status.dataset.charts = String(charts.length);
  status.dataset.ok = ok && errors.length === 0 ? '1' : '0';
  status.textContent = 'charts=' + charts.length + ' rendered=' + ok + ' sizes=' +
    charts.map(c => c.width + 'x' + c.height).join(',') + ' errors=' + errors.length +
    ' resources=' + performance.getEntriesByType('resource').length;
})();
)js";

constexpr const char* kStyle = R"css(
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
.sub { color: #555; margin-top: 0; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 10px 12px; overflow-x: auto; font-size: 12.5px; }
pre.answer { background: #fff8e6; border-color: #e0c070; }
section.chart { margin: 18px 0 28px; }
section.chart h3 { margin-bottom: 2px; }
.note { color: #555; font-size: 13px; margin-top: 2px; }
.canvas-box { position: relative; height: 300px; }
#status { color: #888; font-size: 11px; }
)css";

// The report's head: everything before the netstat-like tables (the answer, its why, the rates).
std::string answer_of(const std::string& text) {
    const std::size_t p = text.find("\nPeak states per host");
    return p == std::string::npos ? text : text.substr(0, p + 1);
}

std::string page_head(const std::string& title) {
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out += fmt::format("<title>{}</title>\n", esc(title));
    out += fmt::format("<style>{}</style>\n", kStyle);
    // Errors from here on (the library's, the charts') are counted in the status line.
    out += "<script>window.tcpsimErrors = []; window.addEventListener('error', e => tcpsimErrors.push(String(e.message)));\n"
           "(function () { const f = console.error; console.error = function () {\n"
           "  tcpsimErrors.push(Array.from(arguments).join(' ')); return f.apply(console, arguments); }; })();</script>\n";
    out += "</head>\n<body>\n";
    return out;
}

std::string page_tail(const nlohmann::ordered_json& data, const char* script) {
    std::string out = "<p id=\"status\" data-ok=\"0\">charts not drawn (JavaScript off?)</p>\n";
    out += fmt::format("<script id=\"tcpsim-data\" type=\"application/json\">{}</script>\n", script_safe(data.dump()));
    out += "<!-- Chart.js from Debian's libjs-chart.js, MIT License (its own header below) -->\n<script>\n";
    out += chartjs_source();
    out += "\n</script>\n<script>";
    out += script;
    out += "</script>\n</body>\n</html>\n";
    return out;
}

}  // namespace

std::string html_report_table(const std::string& tool, const std::string& title, const std::string& text, const std::string& csv) {
    using J = nlohmann::ordered_json;
    J data;
    data["csv"] = csv;
    J charts = J::array();
    if (tool == "sweep") {
        // The swept value: the first pointer column after "run".
        const std::size_t a = csv.find(',') + 1, b = csv.find_first_of(",\n", a);
        const std::string x = csv.substr(a, b - a);
        charts.push_back(J{{"title", "Rates against " + x}, {"type", "line"}, {"x", x},
                           {"ys", {"offered_per_s", "sustained_per_s", "ceiling_per_s"}}});
        charts.push_back(J{{"title", "Failed requests against " + x}, {"type", "bar"}, {"x", x}, {"ys", {"failed"}}});
    } else if (tool == "capacity") {
        charts.push_back(J{{"title", "The probes: rate tried (green passed, red failed)"}, {"type", "bar"}, {"x", "probe"},
                           {"ys", {"rate_per_s"}}, {"passed", "ok"}});
    } else {
        charts.push_back(J{{"title", "Sustained rate with each remedy"}, {"type", "bar"}, {"x", "remedy"},
                           {"ys", {"offered_per_s", "sustained_per_s"}}});
        charts.push_back(J{{"title", "Failed requests with each remedy"}, {"type", "bar"}, {"x", "remedy"}, {"ys", {"failed"}}});
    }
    data["charts"] = charts;
    std::string out = page_head(title);
    out += fmt::format("<h1>{}</h1>\n", esc(title));
    out += fmt::format("<pre class=\"answer\">{}</pre>\n", esc(text));
    out += "<div id=\"charts\"></div>\n";
    out += page_tail(data, kTableScript);
    return out;
}

std::string html_report_run(const Scenario& sc, const ForecastRun& fr) {
    nlohmann::ordered_json data;
    data["scenario"] = sc.file;
    data["seed"] = sc.seed;
    data["csv"] = fr.csv;
    const auto& doc = fr.doc;
    const bool failed = doc.contains("first_failure") && doc["first_failure"].is_object();
    data["first_failure_s"] = failed ? nlohmann::ordered_json(doc["first_failure"].value("time_s", 0.0)) : nlohmann::ordered_json(nullptr);
    data["first_failure_kind"] = failed ? doc["first_failure"].value("errno", std::string()) : "";
    data["first_failure_host"] = failed ? doc["first_failure"].value("host", std::string()) : "";
    const bool breached = doc.contains("first_breach") && doc["first_breach"].is_object();
    data["first_breach_s"] = breached ? nlohmann::ordered_json(doc["first_breach"].value("time_s", 0.0)) : nlohmann::ordered_json(nullptr);
    data["first_breach_objective"] = breached ? doc["first_breach"].value("objective", std::string()) : "";
    const bool pool = doc.contains("analytic_budget") && doc["analytic_budget"].is_number() && doc["analytic_budget"].get<double>() > 0;
    data["pool"] = pool ? doc["analytic_budget"] : nlohmann::ordered_json(nullptr);
    data["pool_basis"] = doc.value("analytic_budget_basis", std::string());
    std::string out = page_head("tcpsim run: " + (sc.name.empty() ? sc.file : sc.name));
    out += fmt::format("<h1>{}</h1>\n", esc(sc.name.empty() ? sc.file : sc.name));
    std::string sets;
    for (const std::string& o : sc.overrides) sets += " --set " + o;
    out += fmt::format("<p class=\"sub\">tcpsim run {}{} (seed {})</p>\n", esc(sc.file), esc(sets), sc.seed);
    out += fmt::format("<pre class=\"answer\">{}</pre>\n", esc(answer_of(fr.text)));
    out += "<div id=\"charts\"></div>\n";
    out += fmt::format("<details><summary>The whole report</summary>\n<pre>{}</pre>\n</details>\n", esc(fr.text));
    out += page_tail(data, kPageScript);
    return out;
}

}  // namespace tcpsim
