// One forecast run: the world, the forecast observing it and the workloads driving it, wired
// together (forecast/forecast.hpp declares it; the workloads are forecast/forecast_app.hpp).
#include "forecast/forecast.hpp"
#include "forecast/forecast_app.hpp"

namespace tcpsim {

ForecastRun run_forecast(const Scenario& sc, const std::function<void(SimTime, std::uint64_t)>& progress,
                         SegmentTap* tap) {
    World w(sc, false);
    w.set_tap(tap);
    // The workloads keep no socket id past its connection except through proxies' two halves
    // and scripted actions' socket names: without those, gone sockets give their slots back.
    w.set_socket_reuse(sc.actions.empty() && sc.forecast.proxies.empty());
    Forecast fc(sc, w);
    Workloads app(sc, w, fc);
    w.set_app(&app);
    if (progress) w.set_progress([&](SimTime t) { progress(t, fc.attempted()); });
    app.start();
    w.run();
    fc.set_unfinished(app.unfinished());
    fc.finish();
    ForecastRun fr{fc.text(), "", fc.csv(), fc.json_doc()};
    fr.json = fr.doc.dump(2) + "\n";
    return fr;
}

}  // namespace tcpsim
