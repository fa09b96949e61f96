# core/ building blocks that the rest relies on bit for bit.
panseg_add_test(tst_sha256 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/core/tst_sha256.cpp LIBS panseg_core)
