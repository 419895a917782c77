// Compression of stored raw delivery bodies.
//
// Raw bodies are most of the store's bytes (7-25 KB of repetitive JSON each),
// so they are kept zstd-compressed: ~4x smaller, which is ~4x less to write,
// fsync and checkpoint. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace relayq::store {

inline constexpr std::string_view kCodecIdentity = "identity";
inline constexpr std::string_view kCodecZstd = "zstd";

struct EncodedBody {
  std::string codec;
  std::string bytes;
};

// Compresses `body` with zstd; bodies too small to gain stay as they are.
EncodedBody EncodeBody(std::string_view body);

// Inverse of EncodeBody. Corruption when the bytes do not decode.
Result<std::string> DecodeBody(std::string_view codec, std::string_view bytes);

}  // namespace relayq::store
