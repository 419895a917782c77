#include "store/body_codec.h"

#include <zstd.h>

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

EncodedBody EncodeBody(std::string_view body) {
  if (body.size() < kMinSizeToCompress) return {std::string(kCodecIdentity), std::string(body)};
  std::string out(ZSTD_compressBound(body.size()), '\0');
  ZSTD_CCtx* ctx = ThreadCCtx();
  size_t n = ctx == nullptr
                 ? ZSTD_compress(out.data(), out.size(), body.data(), body.size(), kZstdLevel)
                 : ZSTD_compressCCtx(ctx, out.data(), out.size(), body.data(), body.size(),
                                     kZstdLevel);
  if (ZSTD_isError(n) || n >= body.size()) {
    return {std::string(kCodecIdentity), std::string(body)};
  }
  out.resize(n);
  return {std::string(kCodecZstd), std::move(out)};
}

Result<std::string> DecodeBody(std::string_view codec, std::string_view bytes) {
  if (codec == kCodecIdentity) return std::string(bytes);
  if (codec != kCodecZstd) return Status::Corruption("unknown body codec '" + std::string(codec) + "'");
  unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ULL << 30)) {
    return Status::Corruption("stored body is not a valid zstd frame");
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != size) return Status::Corruption("stored body does not decompress");
  return out;
}

}  // namespace relayq::store
