// libFuzzer target for the HDF5 readers: stx::data::read_10x_h5 and read_h5ad on each input,
// through the isolated reader they use by default (libhdf5 parses the file in a forked child,
// so a libhdf5 crash or hang on a hostile file comes back as a c10::Error). A c10::Error is the
// expected answer to a corrupt file; a crash, a sanitizer report or a hang in stx's own code (the
// parent side: checks, decoding the child's reply, building tensors) is a finding.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <stx/data/h5ad.h>
#include <stx/data/matrix.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("STX_HDF5_TIMEOUT", "20", 0);  // a libhdf5 loop in the child ends as an error
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/stx_fuzz_hdf5_" + std::to_string(::getpid()) + ".h5";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    (void)stx::data::read_10x_h5(path);
  } catch (const c10::Error&) {
  }
  try {
    (void)stx::data::read_h5ad(path);
  } catch (const c10::Error&) {
  }
  return 0;
}
