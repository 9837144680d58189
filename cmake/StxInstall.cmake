# Install rules: libstx, public headers and the stx::stx CMake package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(STX_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/stx")
install(TARGETS stx EXPORT stxTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/stx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/include/stx/version.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/stx)
install(EXPORT stxTargets NAMESPACE stx:: DESTINATION ${STX_CMAKE_INSTALL_DIR})
configure_package_config_file(cmake/stxConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/stxConfig.cmake"
  INSTALL_DESTINATION ${STX_CMAKE_INSTALL_DIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/stxConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/stxConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/stxConfigVersion.cmake"
  DESTINATION ${STX_CMAKE_INSTALL_DIR})
