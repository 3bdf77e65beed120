// Trace blocks: how the SQLite store keeps traces (migration 5). A block is a run of trace rows
// of one project, encoded row after row in a compact binary form and compressed with zstd; the
// trace_blocks table holds one block per row, with the columns its queries select on (time
// range, the id-time range, row count, failed rows, distinct prompts and models).
//
// Traces are written far more often than read, and the rows of one gateway are alike (the same
// key, model, provider, status and metadata, ids that share their time digits): a block of 512
// gateway-bench traces takes ~16 bytes per trace, where a table row with its two index entries
// took ~194 bytes, and the writer spends a fraction of the instructions (no B-tree insert per
// trace and index). Reads decode the blocks their query selects.
//
// Encoding (format 1): a byte 0x01, the varint size of the raw rows, then one zstd frame of the
// raw rows: a varint row count, then per row its fields in TraceRow order; integers as zigzag
// varints, strings as a varint length and their bytes, cost_usd as 8 little-endian bytes of its
// IEEE double, and the four flags in one byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/trace_repository.h"

namespace promptops::store::trace_blocks {

// Rows per block at most (InsertBatch splits larger groups).
inline constexpr std::size_t kMaxRows = 2048;
// Encoded bytes per block at most, unless one row alone is larger (full bodies can be megabytes
// each): InsertBatch starts a new block before a row that would pass it.
inline constexpr std::size_t kMaxRawBytes = 8 << 20;

// An upper bound of the bytes a row takes encoded (for sizing blocks).
std::size_t EncodedSizeBound(const TraceRow& r);

// The time (Unix ms) in a trace id made by telemetry::NewTraceId ("tr-" and 8 base-62 time
// digits first), or -1 for any other id.
std::int64_t IdTimeMs(std::string_view id);

// A Bloom filter over `values` (16 bits and 4 probes per value: ~0.25% false positives), stored
// with each block for its ids (so that Get decodes only the blocks that may hold its id) and its
// users (so that the user filter skips the others). Values may repeat.
std::string BloomFilter(std::span<const std::string_view> values);
// Whether the filter may hold `value` (false: it certainly does not). An empty filter may hold
// anything.
bool BloomMayHold(std::string_view filter, std::string_view value);

// Encodes `rows` in order. Calls CooperativeYield (core/thread.h) while it compresses.
std::string Encode(std::span<const TraceRow* const> rows);

// A row of a decoded block, its strings pointing into the block's decompressed bytes: filters
// look at these without copying a row, and only matching rows become TraceRows.
struct RowView {
  std::string_view id, key_id, user, session, metadata_json, prompt_name, prompt_label, model,
      provider, upstream_model, error_class, request_body, response_body;
  std::int64_t project_id = 0, time_ms = 0, prompt_version = 0, input_tokens = 0, output_tokens = 0,
               latency_us = 0, ttft_us = -1, status = 0, retries = 0;
  double cost_usd = 0;
  bool usage_estimated = false, fallback_used = false, cache_hit = false, stream = false;

  // With with_bodies false, request_body and response_body are left empty.
  TraceRow ToRow(bool with_bodies) const;
};

// A decompressed block and the views of its rows, valid while it lives and is not decoded into
// again (reusing one keeps its buffers).
struct DecodedBlock {
  std::string raw;
  std::vector<RowView> rows;

  // Every row copied out (RowView::ToRow).
  std::vector<TraceRow> Rows(bool with_bodies) const;
};

// Decodes a block into `out`. Corrupt or truncated data is an error (kInternal), never a crash.
Status DecodeInto(std::string_view block, DecodedBlock& out);

// Decodes a block into rows. With with_bodies false, request_body and response_body are left
// empty.
Result<std::vector<TraceRow>> Decode(std::string_view block, bool with_bodies = true);

}  // namespace promptops::store::trace_blocks
