// `tcpsim sweep`: the scenario run once per combination of --vary values (the first --vary is
// the outermost loop), one row each; `--shard I/N` runs rows I-1, I-1+N, I-1+2N, ... so that a
// scheduler can spread a sweep over machines, and `tcpsim merge` joins the shards' JSON into the
// table one machine would have printed (same bytes).
#pragma once

#include "scenario/overrides.hpp"
#include "whatif/whatif_run.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tcpsim {

struct Vary {
    std::string pointer;
    std::vector<nlohmann::json> values;
};

// Reads "POINTER=v1,v2,..."; throws UsageError.
Vary parse_vary(const std::string& arg);

struct Shard {
    std::size_t index = 1, count = 1;  // 1-based: shard I of N
};
// Reads "I/N" with 1 <= I <= N; throws UsageError.
Shard parse_shard(const std::string& arg);

struct SweepSpec {
    std::string file;
    std::uint64_t seed = 1;        // of the scenario with the --set values applied
    std::vector<Override> sets;    // applied to every run, before the varied values
    std::vector<Vary> vary;
    [[nodiscard]] std::size_t runs() const;
    [[nodiscard]] std::vector<Override> overrides_of(std::size_t index) const;  // sets + the row's values
};

struct SweepRow {
    std::size_t index = 0;
    std::vector<nlohmann::json> values;  // one per --vary
    Outcome outcome;
};

struct SweepTable {
    SweepSpec spec;
    std::vector<SweepRow> rows;  // in index order
    Shard shard;                 // 1/1: the whole sweep
};

// Runs the shard's rows of the sweep on `threads` threads.
SweepTable run_sweep(const std::string& text, const SweepSpec& spec, Shard shard, unsigned threads, bool progress);

std::string sweep_text(const SweepTable& t);
std::string sweep_csv(const SweepTable& t);
std::string sweep_json(const SweepTable& t);

// Joins shards (their --json outputs, with the file names for messages); ScenarioError on
// shards of different sweeps, a row twice, or a row missing.
SweepTable merge_shards(const std::vector<std::pair<std::string, std::string>>& files_and_texts);

// A value as a table cell: strings bare, everything else as JSON.
std::string cell(const nlohmann::json& v);

}  // namespace tcpsim
