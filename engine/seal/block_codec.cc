#include "engine/seal/block_codec.h"

// For ZSTD_createDDict_byReference (zstd is linked statically, see CMakeLists.txt).
#define ZSTD_STATIC_LINKING_ONLY
#define ZDICT_STATIC_LINKING_ONLY  // ZDICT_trainFromBuffer_fastCover
#include <zdict.h>
#include <zstd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"

namespace tracelog {

absl::StatusOr<std::shared_ptr<const Dictionary>> Dictionary::FromBytes(std::string bytes) {
  std::shared_ptr<Dictionary> d(new Dictionary());
  d->bytes_ = std::move(bytes);
  d->view_ = d->bytes_;
  d->id_ = DictionaryId(d->bytes_);
  // By reference: the bytes live as long as the dictionary; no copy of them.
  d->ddict_ = ZSTD_createDDict_byReference(d->view_.data(), d->view_.size());
  if (d->ddict_ == nullptr) return absl::DataLossError("not a usable zstd dictionary");
  return std::shared_ptr<const Dictionary>(std::move(d));
}

absl::StatusOr<std::shared_ptr<const Dictionary>> Dictionary::FromMapping(
    std::unique_ptr<Mapping> mapping, absl::string_view bytes, uint64_t id) {
  std::shared_ptr<Dictionary> d(new Dictionary());
  d->mapping_ = std::move(mapping);
  d->view_ = bytes;
  d->id_ = id;
  d->ddict_ = ZSTD_createDDict_byReference(d->view_.data(), d->view_.size());
  if (d->ddict_ == nullptr) return absl::DataLossError("not a usable zstd dictionary");
  return std::shared_ptr<const Dictionary>(std::move(d));
}

Dictionary::~Dictionary() {
  ZSTD_freeDDict(static_cast<ZSTD_DDict*>(ddict_));
  for (auto& [level, c] : cdicts_) ZSTD_freeCDict(static_cast<ZSTD_CDict*>(c));
}

const void* Dictionary::DecompressionDict() const { return ddict_; }

const void* Dictionary::CompressionDict(int level) const {
  std::lock_guard<std::mutex> l(mu_);
  void*& c = cdicts_[level];
  if (c == nullptr) {
    // Level `level`'s parameters for 128 KiB inputs, with a hash table of
    // 2^19 entries instead of 2^17: with a large dictionary it finds ~1.5 %
    // more matches in these events, and with the tables attached (below)
    // costs no speed (bench/RESULTS.md).
    ZSTD_compressionParameters p = ZSTD_getCParams(level, 128 << 10, view_.size());
    p.hashLog = std::max<unsigned>(p.hashLog, 19);
    c = ZSTD_createCDict_advanced(view_.data(), view_.size(), ZSTD_dlm_byRef, ZSTD_dct_auto, p,
                                  ZSTD_defaultCMem);
  }
  return c;
}

absl::StatusOr<std::string> TrainDictionary(const std::vector<absl::string_view>& samples,
                                            size_t max_size) {
  std::string buffer;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  size_t total = 0;
  for (absl::string_view s : samples) total += s.size();
  buffer.reserve(total);  // not grown by doubling: this is the sealer's largest buffer
  for (absl::string_view s : samples) {
    buffer.append(s.data(), s.size());
    sizes.push_back(s.size());
  }
  std::string dict(max_size, '\0');
  // FastCover with fixed parameters: ZDICT_trainFromBuffer searches four
  // segment sizes `k` (and trains and tests a dictionary for each), 0.74 s
  // on a 16 MiB sample of fleet events, single-threaded, at the start of
  // every import; it picks k = 1024 for agent events, which trained once on
  // every sample takes 0.18 s and gives the same sealed size (bench/RESULTS.md).
  // A frequency table of 2^18 entries (1 MiB, within a core's L2; 2^20 is
  // 4 MiB) and accel 4: 0.31-0.35 -> 0.13-0.15 s of training on this VM, for
  // +0.03 % of sealed size on the issue-4 data set.
  ZDICT_fastCover_params_t params{};
  params.k = 1024;
  params.d = 8;
  params.f = 18;
  params.accel = 4;
  params.splitPoint = 1.0;
  params.zParams.compressionLevel = 3;
  const size_t n = ZDICT_trainFromBuffer_fastCover(dict.data(), dict.size(), buffer.data(),
                                                   sizes.data(),
                                                   static_cast<unsigned>(sizes.size()), params);
  if (ZDICT_isError(n)) {
    return absl::NotFoundError(absl::StrCat("no dictionary trained: ", ZDICT_getErrorName(n)));
  }
  dict.resize(n);
  return dict;
}

BlockCodec::BlockCodec() = default;

BlockCodec::~BlockCodec() {
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
  ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
}

absl::Status BlockCodec::Compress(absl::string_view src, int level, const Dictionary* dict,
                                  std::string* dst) {
  if (cctx_ == nullptr) cctx_ = ZSTD_createCCtx();
  auto* cctx = static_cast<ZSTD_CCtx*>(cctx_);
  const size_t at = dst->size();
  dst->resize(at + ZSTD_compressBound(src.size()));
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  if (dict != nullptr) {
    // The digested dictionary carries the level it was made for.
    ZSTD_CCtx_refCDict(cctx, static_cast<const ZSTD_CDict*>(dict->CompressionDict(level)));
    // Reference the dictionary's tables instead of copying them into the
    // context for every block: 178 vs 146 MB/s sealing, same ratio.
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach);
  } else {
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  }
  const size_t n = ZSTD_compress2(cctx, dst->data() + at, dst->size() - at, src.data(), src.size());
  if (ZSTD_isError(n)) {
    dst->resize(at);
    return absl::InternalError(absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(n)));
  }
  dst->resize(at + n);
  return absl::OkStatus();
}

absl::Status BlockCodec::CheckRawSize(absl::string_view src, uint64_t raw_size) {
  if (raw_size > kMaxBlockRawSize) {
    return absl::DataLossError(absl::StrCat("raw block size ", raw_size, " exceeds the format's ",
                                            kMaxBlockRawSize, "-byte maximum"));
  }
  if (raw_size > MaxZstdContentSize(src.size())) {
    return absl::DataLossError(absl::StrCat("raw block size ", raw_size, " is more than a ",
                                            src.size(), "-byte zstd frame can hold"));
  }
  // The sealer always writes the content size into the frame header.
  const unsigned long long content = ZSTD_getFrameContentSize(src.data(), src.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return absl::DataLossError("not a zstd frame");
  if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != raw_size) {
    return absl::DataLossError(absl::StrCat("raw block size ", raw_size,
                                            " does not match the zstd frame's content size ",
                                            content));
  }
  return absl::OkStatus();
}

absl::Status BlockCodec::Decompress(absl::string_view src, size_t raw_size, const Dictionary* dict,
                                    std::string* dst) {
  if (auto s = CheckRawSize(src, raw_size); !s.ok()) return s;
  if (dctx_ == nullptr) dctx_ = ZSTD_createDCtx();
  auto* dctx = static_cast<ZSTD_DCtx*>(dctx_);
  // Grow only: a reused buffer that is large enough is not zero-filled again.
  if (dst->size() < raw_size) dst->resize(raw_size);
  size_t n;
  if (dict != nullptr) {
    n = ZSTD_decompress_usingDDict(dctx, dst->data(), raw_size, src.data(), src.size(),
                                   static_cast<const ZSTD_DDict*>(dict->DecompressionDict()));
  } else {
    n = ZSTD_decompressDCtx(dctx, dst->data(), raw_size, src.data(), src.size());
  }
  if (ZSTD_isError(n)) {
    dst->clear();
    return absl::DataLossError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
  }
  if (n != raw_size) {
    dst->clear();
    return absl::DataLossError(absl::StrCat("block decompressed to ", n, " bytes, expected ",
                                            raw_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Dictionary>> DictionaryStore::Get(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  const std::string path = JoinPath(dir_, DictFileName(id));
  auto file = fs_->Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  if (*size < kDictHeaderSize) return absl::DataLossError(path + ": dictionary file truncated");
  auto mapping = (*file)->Map(*size, /*writable=*/false);
  if (!mapping.ok()) return mapping.status();
  // The header is checked; the content is not read here (a 512 KiB read costs
  // ~130 page faults, most of a CLI query's budget): frames carry content
  // checksums, so damage to it is caught where it is used.
  const absl::string_view contents((*mapping)->data(), (*mapping)->size());
  uint64_t stored_id;
  absl::string_view bytes;
  absl::Status s = DecodeDictFile(contents, &stored_id, &bytes, /*verify_content=*/false);
  if (s.ok() && stored_id != id) s = absl::DataLossError("dictionary id does not match its name");
  if (!s.ok()) return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
  auto dict = Dictionary::FromMapping(std::move(*mapping), bytes, id);
  if (!dict.ok()) return absl::DataLossError(absl::StrCat(path, ": ", dict.status().message()));
  cache_[id] = *dict;
  return *dict;
}

absl::StatusOr<std::shared_ptr<const Dictionary>> DictionaryStore::Put(std::string bytes) {
  auto dict = Dictionary::FromBytes(std::move(bytes));
  if (!dict.ok()) return dict.status();
  const std::string path = JoinPath(dir_, DictFileName((*dict)->id()));
  if (auto s = WriteFileAtomically(fs_, dir_, path, EncodeDictFile((*dict)->bytes())); !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> l(mu_);
  cache_[(*dict)->id()] = *dict;
  current_ = *dict;
  current_loaded_ = true;
  return *dict;
}

absl::StatusOr<std::shared_ptr<const Dictionary>> DictionaryStore::Current() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (current_loaded_) return current_;
  }
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::optional<uint64_t> lowest;
  for (const std::string& name : *names) {
    if (auto id = ParseDictFileName(name); id && (!lowest || *id < *lowest)) lowest = id;
  }
  std::shared_ptr<const Dictionary> dict;
  if (lowest) {
    auto d = Get(*lowest);
    if (!d.ok()) return d.status();
    dict = *d;
  }
  std::lock_guard<std::mutex> l(mu_);
  current_ = dict;
  current_loaded_ = true;
  return current_;
}

}  // namespace tracelog
