// libFuzzer target for the PNG/JPEG/TIFF decoders behind stx::data::read_image. The decoders
// take a path, so each input is written to a per-process file first. A c10::Error is the
// expected answer to a corrupt image; a crash or sanitizer report is a finding.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include <stx/data/image.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/stx_fuzz_image_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const auto info = stx::data::probe_image(path);
    // Skip huge declared sizes: they are a memory limit, not a decoder bug.
    if (info.width * info.height <= (int64_t(1) << 24)) (void)stx::data::read_image(path);
  } catch (const c10::Error&) {
  }
  return 0;
}
