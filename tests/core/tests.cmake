# core/ building blocks that the rest relies on bit for bit.
panseg_add_test(tst_sha256 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/core/tst_sha256.cpp LIBS panseg_core)
# The remaining-time estimate shown during prediction (synthetic timelines).
panseg_add_test(tst_eta SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/core/tst_eta.cpp LIBS panseg_core)
