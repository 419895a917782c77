#include "store/body_codec.h"

#include <zdict.h>

#include <memory>

namespace relayq::store {
namespace {
// Level 1 is the fastest level; higher levels barely shrink JSON this small
// and cost ingest throughput.
constexpr int kZstdLevel = 1;
constexpr size_t kMinSizeToCompress = 256;

// One compression context per thread, reused: ZSTD_compress() would create
// and zero a fresh context per call, which costs as much as compressing a
// 7 KB body (measured in docs/benchmarks.md). Contexts are never shared
// between threads, so the codec stays thread-safe without locks.
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}
}  // namespace

Result<std::shared_ptr<const BodyDictionary>> BodyDictionary::FromBytes(std::string bytes) {
  std::shared_ptr<BodyDictionary> d(new BodyDictionary());
  d->id_ = ZSTD_getDictID_fromDict(bytes.data(), bytes.size());
  if (d->id_ == 0) return Status::InvalidArgument("not a zstd dictionary");
  d->bytes_ = std::move(bytes);
  d->cdict_ = ZSTD_createCDict(d->bytes_.data(), d->bytes_.size(), kZstdLevel);
  d->ddict_ = ZSTD_createDDict(d->bytes_.data(), d->bytes_.size());
  if (d->cdict_ == nullptr || d->ddict_ == nullptr) {
    return Status::InvalidArgument("zstd cannot load the dictionary");
  }
  return std::shared_ptr<const BodyDictionary>(std::move(d));
}

BodyDictionary::~BodyDictionary() {
  ZSTD_freeCDict(cdict_);
  ZSTD_freeDDict(ddict_);
}

Result<std::string> TrainDictionary(const std::vector<std::string>& samples, size_t capacity) {
  std::string joined;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  for (const std::string& s : samples) {
    joined += s;
    sizes.push_back(s.size());
  }
  std::string dict(capacity, '\0');
  size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), joined.data(), sizes.data(),
                                   static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) {
    return Status::InvalidArgument(std::string("no dictionary: ") + ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

EncodedBody EncodeBody(std::string_view body, const BodyDictionary* dictionary) {
  if (body.size() < kMinSizeToCompress) return {std::string(kCodecIdentity), std::string(body)};
  std::string out(ZSTD_compressBound(body.size()), '\0');
  ZSTD_CCtx* ctx = ThreadCCtx();
  size_t n;
  if (ctx == nullptr) {
    n = ZSTD_compress(out.data(), out.size(), body.data(), body.size(), kZstdLevel);
  } else if (dictionary != nullptr) {
    n = ZSTD_compress_usingCDict(ctx, out.data(), out.size(), body.data(), body.size(),
                                 dictionary->cdict());
  } else {
    n = ZSTD_compressCCtx(ctx, out.data(), out.size(), body.data(), body.size(), kZstdLevel);
  }
  if (ZSTD_isError(n) || n >= body.size()) {
    return {std::string(kCodecIdentity), std::string(body)};
  }
  out.resize(n);
  return {std::string(kCodecZstd), std::move(out)};
}

uint32_t DictionaryIdOf(std::string_view codec, std::string_view bytes) {
  if (codec != kCodecZstd) return 0;
  return ZSTD_getDictID_fromFrame(bytes.data(), bytes.size());
}

Result<std::string> DecodeBody(std::string_view codec, std::string_view bytes,
                               const DictionaryLookup& lookup) {
  if (codec == kCodecIdentity) return std::string(bytes);
  if (codec != kCodecZstd)
    return Status::Corruption("unknown body codec '" + std::string(codec) + "'");
  unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ULL << 30)) {
    return Status::Corruption("stored body is not a valid zstd frame");
  }
  const uint32_t dict_id = ZSTD_getDictID_fromFrame(bytes.data(), bytes.size());
  const BodyDictionary* dictionary = nullptr;
  if (dict_id != 0) {
    dictionary = lookup ? lookup(dict_id) : nullptr;
    if (dictionary == nullptr) {
      return Status::Corruption("stored body needs zstd dictionary " + std::to_string(dict_id) +
                                ", which the store does not have");
    }
  }
  std::string out(static_cast<size_t>(size), '\0');
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return Status::Internal("zstd: no memory for a decompression context");
  size_t n =
      dictionary != nullptr
          ? ZSTD_decompress_usingDDict(dctx.get(), out.data(), out.size(), bytes.data(),
                                       bytes.size(), dictionary->ddict())
          : ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != size) return Status::Corruption("stored body does not decompress");
  return out;
}

}  // namespace relayq::store
