// JPEG through the TurboJPEG API of libjpeg-turbo: errors come back as return codes (no
// setjmp/longjmp across C++ frames) and decoding uses the accurate IDCT with fancy upsampling,
// the same defaults as libjpeg's own decoder.
#include <ATen/ATen.h>
#include <turbojpeg.h>

#include "datasets/image_codecs.h"

namespace stx::data::detail {
namespace {

struct TjDecoder {
  tjhandle handle = tjInitDecompress();
  TjDecoder() { TORCH_CHECK(handle != nullptr, "read_image: cannot create a JPEG decoder: ", tjGetErrorStr2(nullptr)); }
  ~TjDecoder() { tjDestroy(handle); }
  TjDecoder(const TjDecoder&) = delete;
  TjDecoder& operator=(const TjDecoder&) = delete;
};

struct JpegHeader {
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
};

JpegHeader read_header(const TjDecoder& dec, const std::vector<uint8_t>& bytes, const std::string& path) {
  JpegHeader h;
  TORCH_CHECK(tjDecompressHeader3(dec.handle, bytes.data(), static_cast<unsigned long>(bytes.size()), &h.width,
                                  &h.height, &h.subsamp, &h.colorspace) == 0,
              "read_image: '", path, "' is not a readable JPEG: ", tjGetErrorStr2(dec.handle));
  TORCH_CHECK(h.colorspace != TJCS_CMYK && h.colorspace != TJCS_YCCK, "read_image: '", path,
              "' is a CMYK/YCCK JPEG; only grey, RGB and YCbCr JPEGs are supported");
  return h;
}

}  // namespace

ImageInfo probe_jpeg(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  TjDecoder dec;
  const JpegHeader h = read_header(dec, bytes, path);
  return {h.width, h.height, 3, ImageFormat::JPEG};
}

at::Tensor decode_jpeg(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  TjDecoder dec;
  const JpegHeader h = read_header(dec, bytes, path);
  check_pixels(path, "read_image", h.height, h.width);
  auto out = at::empty({h.height, h.width, 3}, at::kByte);
  const int rc = tjDecompress2(dec.handle, bytes.data(), static_cast<unsigned long>(bytes.size()),
                               out.data_ptr<uint8_t>(), h.width, 0, h.height, TJPF_RGB, TJFLAG_ACCURATEDCT);
  // A warning (e.g. premature end of data) still yields an image; a truncated file must not
  // pass silently as a partly grey picture, so any non-zero code is an error.
  TORCH_CHECK(rc == 0, "read_image: '", path, "' is a truncated or corrupt JPEG: ", tjGetErrorStr2(dec.handle));
  return out;
}

}  // namespace stx::data::detail
