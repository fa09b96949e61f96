panseg_add_test(tst_io SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/io/tst_io.cpp LIBS panseg_io)

# Hostile input (issue 21): a seeded corpus of malformed files built from ../shared/data at test
# time, each run through the real `panseg` (info, volume, import) as a child process.
if(TARGET panseg)
  find_package(ZLIB REQUIRED)
  find_package(DCMTK REQUIRED CONFIG)
  panseg_add_test(tst_io_hostile SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/io/tst_io_hostile.cpp
                  LIBS ZLIB::ZLIB DCMTK::dcmdata DCMTK::ofstd)
  target_compile_definitions(tst_io_hostile PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_io_hostile panseg)
  set_tests_properties(tst_io_hostile PROPERTIES TIMEOUT 900)
endif()
