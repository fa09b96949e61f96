# Issue 14: the malformed-file corpus in tests/fuzz/corpus, read in-process (also in the sanitizer run).
if(TARGET panseg_database)
  panseg_add_test(tst_fuzz_corpus SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/tst_fuzz_corpus.cpp
                  LIBS panseg_database panseg_io panseg_core)
  target_compile_definitions(tst_fuzz_corpus PRIVATE PANSEG_FUZZ_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus")
endif()
