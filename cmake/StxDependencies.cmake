# Third-party libraries linked into libstx by the data readers. Included by the top-level
# CMakeLists.txt after the `stx` target exists. One block per dependency.

# --- HDF5 (C library): 10x feature-barcode matrices, .h5ad, HDF5 caches ------------------------
# Through pkg-config: FindHDF5 needs the C language enabled, which this C++/CUDA project is not.
find_package(PkgConfig REQUIRED)
pkg_check_modules(STX_HDF5 REQUIRED IMPORTED_TARGET hdf5)
target_link_libraries(stx PRIVATE PkgConfig::STX_HDF5)

# --- zlib: gzip-compressed TSV/CSV (legacy ST counts, Xenium tables) -----------------------------
find_package(ZLIB REQUIRED)
target_link_libraries(stx PRIVATE ZLIB::ZLIB)

# --- nlohmann-json (header-only): scalefactors_json.json, HEST metadata --------------------------
find_package(nlohmann_json 3.2 REQUIRED)
target_link_libraries(stx PRIVATE nlohmann_json::nlohmann_json)

# --- Images and slides (slides/patches owner): libpng, libjpeg-turbo (TurboJPEG API), libtiff
# for read_image/write_png; OpenSlide for whole-slide images. All through pkg-config.
pkg_check_modules(STX_IMAGE_LIBS REQUIRED IMPORTED_TARGET libpng libturbojpeg libtiff-4)
pkg_check_modules(STX_OPENSLIDE REQUIRED IMPORTED_TARGET openslide)
target_link_libraries(stx PRIVATE PkgConfig::STX_IMAGE_LIBS PkgConfig::STX_OPENSLIDE)
