// Compression of stored raw delivery bodies.
//
// Raw bodies are most of the store's bytes (7-25 KB of repetitive JSON each),
// so they are kept zstd-compressed: ~4x smaller on their own, which is ~4x
// less to write, fsync and checkpoint. Deliveries of one event from the same
// repositories repeat most of their bytes (the repository object alone is
// ~5 KB of URLs), so once enough have arrived the store trains a zstd
// dictionary on them (BodyDictionary) and compresses later bodies with it:
// a 7 KB workflow_job body then takes a few hundred bytes, and the writer,
// which writes every byte twice (WAL, then checkpoint), has that much less to
// do. A frame made with a dictionary names it (zstd's dictionary id), so
// decoding needs the dictionary, which the store keeps in
// `body_dictionaries` for good. Thread-safe.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace relayq::store {

inline constexpr std::string_view kCodecIdentity = "identity";
inline constexpr std::string_view kCodecZstd = "zstd";

struct EncodedBody {
  std::string codec;
  std::string bytes;
};

// A zstd dictionary, ready to compress and decompress with. Immutable.
class BodyDictionary {
 public:
  // InvalidArgument when `bytes` is not a zstd dictionary with an id.
  static Result<std::shared_ptr<const BodyDictionary>> FromBytes(std::string bytes);
  ~BodyDictionary();
  BodyDictionary(const BodyDictionary&) = delete;
  BodyDictionary& operator=(const BodyDictionary&) = delete;

  uint32_t id() const { return id_; }
  const std::string& bytes() const { return bytes_; }
  const ZSTD_CDict* cdict() const { return cdict_; }
  const ZSTD_DDict* ddict() const { return ddict_; }

 private:
  BodyDictionary() = default;
  std::string bytes_;
  uint32_t id_ = 0;
  ZSTD_CDict* cdict_ = nullptr;
  ZSTD_DDict* ddict_ = nullptr;
};

// Trains a dictionary of at most `capacity` bytes on `samples` (earlier
// bodies of one event). InvalidArgument when they are too few or too alike
// for zstd to build one.
Result<std::string> TrainDictionary(const std::vector<std::string>& samples, size_t capacity);

// Compresses `body` with zstd, with `dictionary` when given; bodies too small
// to gain stay as they are.
EncodedBody EncodeBody(std::string_view body, const BodyDictionary* dictionary = nullptr);

// The dictionary with this id, or nullptr when there is none.
using DictionaryLookup = std::function<const BodyDictionary*(uint32_t id)>;

// Inverse of EncodeBody. Corruption when the bytes do not decode, or name a
// dictionary `lookup` does not have.
Result<std::string> DecodeBody(std::string_view codec, std::string_view bytes,
                               const DictionaryLookup& lookup = {});

// The id of the dictionary a stored zstd body was made with; 0 for none.
uint32_t DictionaryIdOf(std::string_view codec, std::string_view bytes);

}  // namespace relayq::store
